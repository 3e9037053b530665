"""Corrections in the SQLite store: one row per (interaction, user), paged by creation time."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from tuning.records import Correction
from tuning.store import codec
from tuning.store.codec import decode_text as dec
from tuning.store.codec import encode_text as enc
from tuning.store.sqlite.engine import Row, SqliteEngine

PAGE_TAIL = (
    " AND (created_at, interaction_id, user) > (:after_created, :after_interaction, :after_user)"
    " ORDER BY created_at, interaction_id, user LIMIT :limit"
)


def decode_correction(row: Row) -> Correction:
    """Rebuild a correction from its row."""
    return codec.correction_from_dict(row, dec)


def _after(row: Row) -> dict[str, Any]:
    return {
        "after_created": row["created_at"],
        "after_interaction": row["interaction_id"],
        "after_user": row["user"],
    }


class SqliteCorrections(SqliteEngine):
    """The corrections part of :class:`~tuning.store.sqlite.store.SqliteStore`."""

    async def add_correction(self, correction: Correction) -> None:
        """Store a person's better reply; one per (interaction, user), a later one replaces it."""
        row = codec.correction_to_dict(correction, enc)

        def upsert(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO corrections (interaction_id, user, text, created_at) "
                "VALUES (:interaction_id, :user, :text, :created_at) "
                "ON CONFLICT (interaction_id, user) DO UPDATE SET "
                "text = excluded.text, created_at = excluded.created_at",
                row,
            )

        await self._run(upsert)

    async def iter_corrections(self, *, since: datetime | None = None) -> AsyncIterator[Correction]:
        """Yield corrections oldest first, optionally only those created after ``since``."""
        sql = "SELECT * FROM corrections WHERE created_at > :since" + PAGE_TAIL
        bind = {
            "since": "" if since is None else enc(since),
            "after_created": "",
            "after_interaction": "",
            "after_user": "",
        }
        async for item in self._page(sql, bind, _after, decode_correction):
            yield item
