"""Manifests on Firestore: record ids as a zlib blob, split over documents past ~900 KB.

A document holds at most 1 MiB and 20,000 index entries, so the ids are one unindexed bytes
field (``firestore.indexes.json`` exempts it), and a blob too large for one document continues
in ``manifest_parts``. The main document keeps the blob's digest: a reader that meets parts from
another write than the main document's reads again.
"""

from __future__ import annotations

import hashlib
from typing import Any

from google.cloud.firestore import FieldFilter

from tuning.errors import StoreError
from tuning.records import Manifest
from tuning.store.firestore.docs import decode_time as dec
from tuning.store.firestore.docs import doc_id, translated
from tuning.store.firestore.docs import encode_time as enc
from tuning.store.firestore.engine import WRITE_BATCH, FirestoreEngine
from tuning.store.manifest_codec import manifest_from_dict, manifest_to_dict, pack_ids, unpack_ids

PART_BYTES = 900_000  # of packed ids per document, well inside Firestore's 1 MiB
READ_ATTEMPTS = 3


def _digest(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


class FirestoreManifests(FirestoreEngine):
    """The manifests part of :class:`~tuning.store.firestore.store.FirestoreStore`."""

    def _part_ref(self, manifest_id: str, part: int) -> Any:
        return self._col("manifest_parts").document(doc_id(f"{manifest_id}#{part}"))

    async def _part_snapshots(self, manifest_id: str) -> list[Any]:
        query = self._col("manifest_parts").where(filter=FieldFilter("manifest", "==", manifest_id))
        return list(await query.get())

    @translated
    async def put_manifest(self, manifest: Manifest) -> None:
        """Insert or replace a manifest (by id), in one batch with its parts."""
        blob = pack_ids(manifest.record_ids)
        chunks = [blob[start : start + PART_BYTES] for start in range(0, len(blob), PART_BYTES)]
        if len(chunks) > WRITE_BATCH:
            raise StoreError(f"manifest {manifest.id!r} has too many record ids to store")
        document = {
            **manifest_to_dict(manifest, enc),
            "record_ids": chunks[0],
            "parts": len(chunks),
            "digest": _digest(blob),
        }
        stale = [
            s.reference
            for s in await self._part_snapshots(manifest.id)
            if int(s.get("part")) >= len(chunks)
        ]
        batch = self.client.batch()
        batch.set(self._doc("manifests", manifest.id), document)
        for part, chunk in enumerate(chunks[1:], start=1):
            fields = {"manifest": manifest.id, "part": part, "record_ids": chunk}
            batch.set(self._part_ref(manifest.id, part), fields)
        for ref in stale:
            batch.delete(ref)
        await batch.commit()

    @translated
    async def get_manifest(self, manifest_id: str) -> Manifest | None:
        """Return one manifest, or None."""
        for _ in range(READ_ATTEMPTS):
            snapshot = await self._doc("manifests", manifest_id).get()
            if not snapshot.exists:
                return None
            found = await self._decode(snapshot.to_dict() or {})
            if found is not None:
                return found
        raise StoreError(f"stored manifest {manifest_id!r} keeps changing under its readers")

    @translated
    async def list_manifests(self) -> list[Manifest]:
        """Return every manifest, newest first."""
        found = []
        async for snapshot in self._pages(self._col("manifests").order_by("created_at")):
            manifest = await self._decode(snapshot.to_dict() or {})
            if manifest is None:  # replaced while we read it: read it afresh
                manifest = await self.get_manifest(str(snapshot.get("id")))
            if manifest is not None:
                found.append(manifest)
        return sorted(found, key=lambda m: (m.created_at, m.id), reverse=True)

    async def _decode(self, data: dict[str, Any]) -> Manifest | None:
        """Rebuild a manifest from its main document, reading its parts; None if they moved on."""
        try:
            manifest_id, parts, digest = str(data["id"]), int(data["parts"]), str(data["digest"])
            blob = bytes(data["record_ids"])
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(f"stored manifest {data.get('id')!r} is malformed: {exc!r}") from exc
        if parts > 1:
            refs = [self._part_ref(manifest_id, part) for part in range(1, parts)]
            chunks = {s.id: s.to_dict() or {} async for s in self.client.get_all(refs)}
            blob += b"".join(bytes(chunks.get(ref.id, {}).get("record_ids", b"")) for ref in refs)
        if _digest(blob) != digest:
            return None
        return manifest_from_dict(data, unpack_ids(blob), dec)

    @translated
    async def delete_manifest(self, manifest_id: str) -> None:
        """Delete a manifest and its parts; deleting a missing one is a no-op."""
        parts = [s.reference for s in await self._part_snapshots(manifest_id)]
        await self._delete_all([self._doc("manifests", manifest_id), *parts])
