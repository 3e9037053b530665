"""Manifests in the SQLite store: one row each, the record ids as one compressed blob."""

from __future__ import annotations

import json
import sqlite3

from tuning.records import Manifest
from tuning.store.codec import decode_text as dec
from tuning.store.codec import decoding
from tuning.store.codec import encode_text as enc
from tuning.store.manifest_codec import manifest_from_dict, manifest_to_dict, pack_ids, unpack_ids
from tuning.store.sqlite.engine import Row, SqliteEngine, to_json


def decode_manifest(row: Row) -> Manifest:
    """Rebuild a manifest from its row."""
    with decoding("manifest", row, "id"):
        row["locations"] = json.loads(row["locations"])
        row["pending"] = json.loads(row["pending"])
    return manifest_from_dict(row, unpack_ids(row["record_ids"]), dec)


class SqliteManifests(SqliteEngine):
    """The manifests part of :class:`~tuning.store.sqlite.store.SqliteStore`."""

    async def put_manifest(self, manifest: Manifest) -> None:
        """Insert or replace a manifest (by id)."""
        row = manifest_to_dict(manifest, enc)
        row["locations"] = to_json(row["locations"], "manifest locations")
        row["pending"] = to_json(row["pending"], "manifest pending locations")
        row["record_ids"] = pack_ids(manifest.record_ids)
        sql = (
            f"INSERT OR REPLACE INTO manifests ({', '.join(row)}) "
            f"VALUES ({', '.join(':' + name for name in row)})"
        )
        await self._run(lambda conn: conn.execute(sql, row))

    async def get_manifest(self, manifest_id: str) -> Manifest | None:
        """Return one manifest, or None."""
        row = await self._run(
            lambda conn: conn.execute(
                "SELECT * FROM manifests WHERE id = ?", (manifest_id,)
            ).fetchone()
        )
        return None if row is None else decode_manifest(row)

    async def list_manifests(self) -> list[Manifest]:
        """Return every manifest, newest first."""

        def read(conn: sqlite3.Connection) -> list[Manifest]:
            sql = "SELECT * FROM manifests ORDER BY created_at DESC, id DESC"
            return [decode_manifest(row) for row in conn.execute(sql)]

        return await self._run(read)

    async def delete_manifest(self, manifest_id: str) -> None:
        """Delete a manifest; deleting a missing one is a no-op."""
        await self._run(
            lambda conn: conn.execute("DELETE FROM manifests WHERE id = ?", (manifest_id,))
        )
