"""The embedded default store: one SQLite file in WAL mode, safe across processes.

Every sqlite3 call runs on one worker thread per store (see :mod:`tuning.store.sqlite.engine`).
Across processes, the atomic operations (claim, promote, feedback) run inside ``BEGIN IMMEDIATE``
transactions with a busy timeout, so two bot replicas on one file still see exactly one winner.
Iterators page through results in batches by key, so no read transaction stays open between
batches. The model registry, jobs and settings are in :mod:`tuning.store.sqlite.registry`;
forget-me and retention in :mod:`tuning.store.sqlite.privacy`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable, Collection
from datetime import datetime, timedelta
from typing import Any

from tuning.errors import NotFoundError
from tuning.records import Feedback, Interaction, Kind
from tuning.store import codec
from tuning.store.base import Store
from tuning.store.codec import encode_text as enc
from tuning.store.sqlite.corrections import SqliteCorrections
from tuning.store.sqlite.counts import SqliteCounts
from tuning.store.sqlite.engine import (
    FEEDBACK_COLUMNS,
    Row,
    decode_feedback,
    decode_interaction,
    immediate,
    present,
    to_json,
)
from tuning.store.sqlite.manifests import SqliteManifests
from tuning.store.sqlite.privacy import SqlitePrivacy
from tuning.store.sqlite.registry import SqliteRegistry

__all__ = ["SqliteStore"]


def _keyset(*columns: str) -> tuple[str, dict[str, Any], Callable[[Row], dict[str, Any]]]:
    """Return paging by ``columns`` for :meth:`_page`: SQL tail, first binds, next binds.

    The tail continues after the last row's key and orders by it; the first binds start below
    every stored value.
    """
    names = [f"after_{column}" for column in columns]
    key = ", ".join(columns)
    tail = f" AND ({key}) > ({', '.join(':' + name for name in names)}) ORDER BY {key} LIMIT :limit"

    def after(row: Row) -> dict[str, Any]:
        return {name: row[column] for name, column in zip(names, columns, strict=True)}

    return tail, dict.fromkeys(names, ""), after


class SqliteStore(
    SqlitePrivacy, SqliteManifests, SqliteCorrections, SqliteCounts, SqliteRegistry, Store
):
    """A :class:`Store` in one SQLite file (created with its directory when missing)."""

    # -- interactions --------------------------------------------------------------------------

    async def add_interaction(self, interaction: Interaction) -> None:
        """Store a new interaction; raise ConflictError if its id exists."""
        row = codec.interaction_to_dict(interaction, enc)
        row["candidates"] = to_json(row["candidates"], "interaction candidates")
        await self._insert(
            "interactions", row, conflict=f"interaction {interaction.id!r} already exists"
        )

    async def update_interaction(self, interaction: Interaction) -> None:
        """Replace a stored interaction (same id); raise NotFoundError if it is missing."""
        row = codec.interaction_to_dict(interaction, enc)
        row["candidates"] = to_json(row["candidates"], "interaction candidates")
        assignments = ", ".join(f"{name} = :{name}" for name in row if name != "id")

        def update(conn: sqlite3.Connection) -> None:
            cursor = conn.execute(f"UPDATE interactions SET {assignments} WHERE id = :id", row)
            if cursor.rowcount == 0:
                raise NotFoundError(f"interaction {interaction.id!r} does not exist")

        await self._run(update)

    async def get_interaction(self, interaction_id: str) -> Interaction | None:
        """Return the interaction with this id, or None."""
        row = await self._run(
            lambda conn: conn.execute(
                "SELECT * FROM interactions WHERE id = ?", (interaction_id,)
            ).fetchone()
        )
        return None if row is None else decode_interaction(row)

    async def recorded_interactions(self, ids: Collection[str]) -> set[str]:
        """Return the ids among ``ids`` that name a stored interaction, in one query."""
        wanted = list(dict.fromkeys(ids))
        return await self._run(lambda conn: set(present(conn, "interactions", "id", wanted)))

    async def find_interaction(self, *, channel: str, ts: str) -> Interaction | None:
        """Return the interaction whose ``ts`` or ``reply_ts`` is this message, or None."""

        def find(conn: sqlite3.Connection) -> Row | None:
            # Two indexed lookups rather than one OR, which SQLite may not serve from indexes.
            for column in ("ts", "reply_ts"):
                row: Row | None = conn.execute(
                    f"SELECT * FROM interactions WHERE channel = ? AND {column} = ? "
                    "ORDER BY created_at LIMIT 1",
                    (channel, ts),
                ).fetchone()
                if row is not None:
                    return row
            return None

        row = await self._run(find)
        return None if row is None else decode_interaction(row)

    async def linked_interactions(self, *, parent_id: str) -> list[Interaction]:
        """Return the interactions whose ``parent_id`` is this id, oldest first (maybe none)."""
        rows = await self._run(
            lambda conn: conn.execute(
                "SELECT * FROM interactions WHERE parent_id = ? ORDER BY created_at, id",
                (parent_id,),
            ).fetchall()
        )
        return [decode_interaction(row) for row in rows]

    async def iter_interactions(
        self, *, kind: Kind | None = None, since: datetime | None = None
    ) -> AsyncIterator[Interaction]:
        """Yield interactions oldest first, optionally of one kind or created after ``since``."""
        tail, start, after = _keyset("created_at", "id")
        sql = (
            "SELECT * FROM interactions WHERE created_at > :since"
            + (" AND kind = :kind" if kind is not None else "")
            + tail
        )
        bind = {"since": "" if since is None else enc(since), "kind": kind, **start}
        async for item in self._page(sql, bind, after, decode_interaction):
            yield item

    # -- feedback ------------------------------------------------------------------------------

    async def add_feedback(
        self, *, interaction_id: str, user: str, reaction: str, rating: int, event_ts: str = ""
    ) -> Feedback:
        """Record feedback once per (interaction, user, reaction) and return the stored record.

        Adding it again is a no-op; adding it after a retraction reinstates it (with the new
        rating and ``updated_at``; ``retracted_at`` keeps the last retraction for the audit trail).
        With an ``event_ts``, an add no newer than the key's last add or retraction is ignored.
        """
        key = (interaction_id, user, reaction)
        order = codec.event_order(event_ts)
        now = self.clock()

        def add(conn: sqlite3.Connection) -> Row | None:
            stamp = enc(now)
            with immediate(conn):
                if order and not self._advance(conn, key, order):
                    return self._feedback_row(conn, key)
                conn.execute(
                    f"INSERT INTO feedback ({FEEDBACK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 0, NULL) "
                    "ON CONFLICT (interaction_id, user, reaction) DO UPDATE SET retracted = 0, "
                    "rating = excluded.rating, updated_at = excluded.updated_at "
                    "WHERE retracted = 1",
                    (*key, rating, stamp, stamp),
                )
                return self._feedback_row(conn, key)

        row = await self._run(add)
        if row is None:  # only ever retracted, by a newer event: nothing to store
            return Feedback(*key, rating, now, now, retracted=True, retracted_at=now)
        return decode_feedback(row)

    async def retract_feedback(
        self, *, interaction_id: str, user: str, reaction: str, event_ts: str = ""
    ) -> Feedback | None:
        """Mark the feedback retracted (kept for audit) and return it, or None if never given.

        With an ``event_ts``, a retraction no newer than the key's last write is ignored.
        """
        key = (interaction_id, user, reaction)
        order = codec.event_order(event_ts)

        def retract(conn: sqlite3.Connection) -> Row | None:
            now = enc(self.clock())
            with immediate(conn):
                if order and not self._advance(conn, key, order):
                    return self._feedback_row(conn, key)
                conn.execute(
                    "UPDATE feedback SET retracted = 1, retracted_at = ?, updated_at = ? "
                    "WHERE interaction_id = ? AND user = ? AND reaction = ? AND retracted = 0",
                    (now, now, *key),
                )
                return self._feedback_row(conn, key)

        row = await self._run(retract)
        return None if row is None else decode_feedback(row)

    @staticmethod
    def _advance(conn: sqlite3.Connection, key: tuple[str, str, str], order: str) -> bool:
        """Record ``order`` as the key's last event; return False if a newer one came first."""
        cursor = conn.execute(
            "INSERT INTO feedback_order (interaction_id, user, reaction, event_order) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (interaction_id, user, reaction) "
            "DO UPDATE SET event_order = excluded.event_order "
            "WHERE excluded.event_order > feedback_order.event_order",
            (*key, order),
        )
        return cursor.rowcount > 0

    @staticmethod
    def _feedback_row(conn: sqlite3.Connection, key: tuple[str, str, str]) -> Row | None:
        row: Row | None = conn.execute(
            f"SELECT {FEEDBACK_COLUMNS} FROM feedback "
            "WHERE interaction_id = ? AND user = ? AND reaction = ?",
            key,
        ).fetchone()
        return row

    async def iter_feedback(
        self,
        *,
        interaction_id: str | None = None,
        since: datetime | None = None,
        include_retracted: bool = False,
    ) -> AsyncIterator[Feedback]:
        """Yield feedback oldest first, filtered by interaction and by ``updated_at > since``."""
        tail, start, after = _keyset("updated_at", "interaction_id", "user", "reaction")
        sql = (
            f"SELECT {FEEDBACK_COLUMNS} FROM feedback WHERE updated_at > :since"
            + (" AND interaction_id = :interaction_id" if interaction_id is not None else "")
            + ("" if include_retracted else " AND retracted = 0")
            + tail
        )
        since_text = "" if since is None else enc(since)
        bind = {"since": since_text, "interaction_id": interaction_id, **start}
        async for item in self._page(sql, bind, after, decode_feedback):
            yield item

    # -- claims --------------------------------------------------------------------------------

    async def claim(self, key: str, *, ttl: timedelta, holder: str = "") -> bool:
        """Atomically claim ``key`` for ``ttl``; return True for exactly one concurrent caller.

        A live claim is never re-granted, not even to its own holder.
        """

        def take(conn: sqlite3.Connection) -> bool:
            with immediate(conn):
                now = self.clock()  # read the clock only once we hold the write lock
                row = conn.execute("SELECT expires_at FROM claims WHERE key = ?", (key,)).fetchone()
                if row is not None and row["expires_at"] > enc(now):
                    return False
                conn.execute(
                    "INSERT INTO claims (key, holder, expires_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET holder = excluded.holder, "
                    "expires_at = excluded.expires_at",
                    (key, holder, enc(now + ttl)),
                )
                return True

        return await self._run(take)

    async def release(self, key: str, *, holder: str = "") -> None:
        """Drop a claim held by ``holder``; a claim held by someone else is left alone."""
        await self._run(
            lambda conn: conn.execute(
                "DELETE FROM claims WHERE key = ? AND holder = ?", (key, holder)
            )
        )

    async def purge_expired(self, *, now: datetime | None = None) -> int:
        """Delete expired claims and return how many were deleted."""
        cutoff = enc(now or self.clock())
        return await self._run(
            lambda conn: (
                conn.execute("DELETE FROM claims WHERE expires_at <= ?", (cutoff,)).rowcount
            )
        )
