"""Manifests as plain dicts for both store backends, with their record ids packed small.

A manifest may list tens of thousands of record ids, so they are stored as one zlib-compressed
blob of sorted, newline-joined ids rather than as a list (which Firestore would index entry by
entry, and which would not fit in one document).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from typing import Any

from tuning.errors import StoreError
from tuning.records import Manifest
from tuning.store.codec import Decode, Encode, decoding


def pack_ids(ids: Iterable[str]) -> bytes:
    """Return ``ids`` as one compressed blob; raise StoreError for an id with a newline.

    >>> sorted(unpack_ids(pack_ids({"i2", "i1"})))
    ['i1', 'i2']
    >>> unpack_ids(pack_ids([]))
    frozenset()
    """
    ordered = sorted(ids)
    if any("\n" in record_id for record_id in ordered):
        raise StoreError("a manifest record id contains a newline")
    return zlib.compress("\n".join(ordered).encode("utf-8"), 6)


def unpack_ids(blob: bytes) -> frozenset[str]:
    """Return the ids :func:`pack_ids` packed; raise StoreError if the blob is damaged."""
    try:
        text = zlib.decompress(blob).decode("utf-8")
    except (zlib.error, UnicodeDecodeError, TypeError) as exc:
        raise StoreError(f"stored manifest record ids are malformed: {exc!r}") from exc
    return frozenset(text.split("\n")) if text else frozenset()


def manifest_to_dict(item: Manifest, enc: Encode) -> dict[str, Any]:
    """Return the manifest as a dict, without its record ids (each backend stores those)."""
    return {
        "id": item.id,
        "kind": item.kind,
        "task": item.task,
        "locations": list(item.locations),
        "oldest": None if item.oldest is None else enc(item.oldest),
        "affected": item.affected,
        "pending": list(item.pending),
        "created_at": enc(item.created_at),
        "updated_at": enc(item.updated_at),
    }


def manifest_from_dict(
    data: Mapping[str, Any], record_ids: frozenset[str], dec: Decode
) -> Manifest:
    """Rebuild a manifest from :func:`manifest_to_dict` output and its unpacked record ids."""
    with decoding("manifest", data, "id"):
        oldest = data.get("oldest")
        return Manifest(
            id=data["id"],
            kind=data["kind"],
            task=data["task"],
            record_ids=record_ids,
            locations=tuple(str(location) for location in data["locations"]),
            oldest=None if oldest is None else dec(oldest),
            affected=data["affected"],
            pending=tuple(str(entry) for entry in data["pending"]),
            created_at=dec(data["created_at"]),
            updated_at=dec(data["updated_at"]),
        )
