"""Forget-me and the retention purge in the SQLite store: each one ``BEGIN IMMEDIATE`` step."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from tuning.records import Erased, correction_id
from tuning.sqlite_thread import truncate_log
from tuning.store.codec import encode_text as enc
from tuning.store.sqlite.engine import SqliteEngine, immediate


def _erase(conn: sqlite3.Connection, doomed: str, feedback: str, binds: dict[str, str]) -> Erased:
    """Delete the interactions ``doomed`` selects, what hangs on them, and ``feedback`` too.

    ``doomed`` is a SELECT of interaction ids; ``feedback`` a condition on a feedback or
    corrections row (its own ``user`` or ``created_at``) for the records that go as well.
    Feedback order markers of deleted feedback go too: they hold ids only, but name the user.
    """
    on = f"interaction_id IN ({doomed}) OR {feedback}"
    ids = [row["id"] for row in conn.execute(doomed, binds)]
    corrections = [
        correction_id(interaction_id=row["interaction_id"], user=row["user"])
        for row in conn.execute(f"SELECT interaction_id, user FROM corrections WHERE {on}", binds)
    ]
    conn.execute(
        "DELETE FROM feedback_order WHERE (interaction_id, user, reaction) IN "
        f"(SELECT interaction_id, user, reaction FROM feedback WHERE {on}) "
        f"OR interaction_id IN ({doomed})",
        binds,
    )
    rated = conn.execute(f"DELETE FROM feedback WHERE {on}", binds).rowcount
    conn.execute(f"DELETE FROM corrections WHERE {on}", binds)
    conn.execute(f"DELETE FROM interactions WHERE id IN ({doomed})", binds)
    return Erased(
        interactions=len(ids),
        feedback=int(rated),
        corrections=len(corrections),
        record_ids=frozenset(ids) | frozenset(corrections),
    )


def _scrubbed(conn: sqlite3.Connection, erased: Erased) -> Erased:
    """Leave no deleted text readable in the database's files, then return ``erased``."""
    if erased.total:
        truncate_log(conn)
    return erased


class SqlitePrivacy(SqliteEngine):
    """Forget-me and retention for :class:`~tuning.store.sqlite.store.SqliteStore`."""

    async def forget_user(self, *, user: str) -> Erased:
        """Delete every record of the user's text and feedback; return what went.

        Deletes what the user authored, the feedback and corrections on it, and those the
        user gave; clears the user as the actor of what others wrote. The opt-out record and
        the admin audit log are kept. An empty ``user`` forgets nothing.
        """
        if not user:
            return Erased()

        def forget(conn: sqlite3.Connection) -> Erased:
            binds = {"user": user}
            with immediate(conn):
                conn.execute("DELETE FROM feedback_order WHERE user = :user", binds)
                erased = _erase(
                    conn, "SELECT id FROM interactions WHERE author = :user", "user = :user", binds
                )
                conn.execute("UPDATE interactions SET user = '' WHERE user = :user", binds)
            return _scrubbed(conn, erased)

        return await self._run(forget)

    async def purge_before(self, cutoff: datetime) -> Erased:
        """Delete interactions, feedback and corrections created before ``cutoff``.

        Feedback and corrections on a deleted interaction go with it.
        """

        def purge(conn: sqlite3.Connection) -> Erased:
            binds = {"cutoff": enc(cutoff)}
            with immediate(conn):
                erased = _erase(
                    conn,
                    "SELECT id FROM interactions WHERE created_at < :cutoff",
                    "created_at < :cutoff",
                    binds,
                )
            return _scrubbed(conn, erased)

        return await self._run(purge)
