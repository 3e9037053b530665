"""Counts and active-version lookups answered by SQL, instead of reading every row into Python."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from tuning.records import Kind, Task
from tuning.store.codec import encode_text as enc
from tuning.store.sqlite.engine import SqliteEngine


class SqliteCounts(SqliteEngine):
    """Counting reads for :class:`~tuning.store.sqlite.store.SqliteStore`."""

    async def count_feedback(
        self, *, since: datetime | None = None, kind: Kind | None = None
    ) -> int:
        """Return how many unretracted feedback records changed after ``since`` (of ``kind``)."""
        sql = "SELECT COUNT(*) AS n FROM feedback WHERE retracted = 0 AND updated_at > ?"
        binds: list[str] = ["" if since is None else enc(since)]
        if kind is not None:
            sql += (
                " AND EXISTS (SELECT 1 FROM interactions"
                " WHERE interactions.id = feedback.interaction_id AND interactions.kind = ?)"
            )
            binds.append(kind)

        def count(conn: sqlite3.Connection) -> int:
            return int(conn.execute(sql, binds).fetchone()["n"])

        return await self._run(count)

    async def active_version(self, *, task: Task) -> str | None:
        """Return the version id of the active model of ``task``, or None."""

        def find(conn: sqlite3.Connection) -> str | None:
            sql = "SELECT version FROM models WHERE task = ? AND state = 'active'"
            row = conn.execute(sql, (task,)).fetchone()
            return None if row is None else str(row["version"])

        return await self._run(find)
