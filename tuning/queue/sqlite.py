"""The embedded default queue: tables of its own in the store's SQLite file (or beside it).

Every operation is one transaction that takes the write lock as it begins (``BEGIN IMMEDIATE``,
or a put's single INSERT; see :mod:`tuning.queue.sqlite_engine`), so two processes sharing the
file never lease one item at once; concurrent puts share one (group commit). ``put`` commits
before it returns (WAL, ``synchronous = NORMAL``: a committed put survives the process being
killed).
A done item keeps its key for :data:`~tuning.queue.base.DEDUPE_WINDOW`, so a redelivered event
is not put again; dead items stay for operators for ``dead_retention``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from tuning.errors import QueueError
from tuning.json_text import dumps
from tuning.queue.base import (
    DEDUPE_WINDOW,
    MAX_ATTEMPTS,
    Lease,
    WorkItem,
    WorkQueue,
    check_ttl,
)
from tuning.queue.group_commit import GroupCommit
from tuning.queue.sqlite_engine import QueueEngine, Row
from tuning.records import Clock, frozen_mapping, utcnow
from tuning.sqlite_thread import truncate_log
from tuning.store.codec import decode_text as dec
from tuning.store.codec import encode_text as enc
from tuning.store.sqlite.engine import immediate

__all__ = ["SqliteQueue"]

# What put writes of an item: key, kind, payload (JSON) and not_before.
PutRow = tuple[str, str, str, datetime | None]

# Below this much free space the probe says no: SQLite reuses its WAL file, so a tiny write can
# still succeed on a full disk while a put that needs a new page fails.
MIN_FREE_BYTES = 16 * 1024 * 1024
# Rows in one INSERT: five parameters each, far below SQLite's 32,766 a statement.
PUT_CHUNK = 500
# Done keys and dead items are purged by a put at most this often (by the queue's clock): the
# purge is two index seeks, and a burst of acks commits hundreds of puts a second.
PURGE_EVERY = timedelta(seconds=1)


def _item(row: Row) -> WorkItem:
    not_before = row["not_before"]
    return WorkItem(
        key=row["key"],
        kind=row["kind"],
        payload=frozen_mapping(json.loads(row["payload"])),
        not_before=None if not_before is None else dec(not_before),
    )


class SqliteQueue(WorkQueue):
    """A :class:`WorkQueue` in one SQLite file, safe across threads and processes."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Clock = utcnow,
        max_attempts: int = MAX_ATTEMPTS,
        dedupe_window: timedelta = DEDUPE_WINDOW,
        dead_retention: timedelta = timedelta(days=7),
        min_free_bytes: int = MIN_FREE_BYTES,
        busy_timeout: float = 15.0,
    ) -> None:
        self.clock = clock
        self.max_attempts = max_attempts
        self.dedupe_window = dedupe_window
        self.dead_retention = dead_retention
        self.min_free_bytes = min_free_bytes
        self._engine = QueueEngine(path, busy_timeout=busy_timeout)
        # Puts, and finished leases (key, token), each share their commits (group commit).
        self._puts = GroupCommit(self._insert)
        self._finishes = GroupCommit(self._finish)
        self._purged: datetime | None = None  # when a put last purged (None: not yet)

    @property
    def path(self) -> os.PathLike[str]:
        """Return the database file."""
        return self._engine.path

    async def open(self) -> None:
        """Create the directory, file and queue tables when missing; idempotent."""
        await self._engine.run(lambda conn: None)

    async def close(self) -> None:
        """Close the connection; leased items stay leased until their leases expire."""
        await self._engine.close()

    async def put(self, item: WorkItem) -> bool:
        """Commit ``item`` before returning; return False if its key is known (queued or recent).

        Puts that arrive while a commit is under way wait for the next one, and go in it
        together (group commit): each returns only after that commit, and all fail if it fails.
        Raise QueueError if the item cannot be written (disk full, read-only, not JSON).
        """
        return await self._puts(_row(item))

    async def _insert(self, batch: Sequence[PutRow]) -> list[bool]:
        def insert(conn: sqlite3.Connection) -> list[bool]:
            now = self.clock()
            if len(batch) <= PUT_CHUNK and not self._purge_due(now):
                return _insert_at_once(conn, batch, now)
            with immediate(conn):
                now = self.clock()  # read again, once we hold the write lock
                self._purge(conn, now)
                inserted: set[str] = set()
                # One statement a chunk, not one a row: the rows a key was new for come back.
                for start in range(0, len(batch), PUT_CHUNK):
                    chunk = batch[start : start + PUT_CHUNK]
                    cursor = conn.execute(
                        _insert_sql(len(chunk)) + " RETURNING key", _values(chunk, now)
                    )
                    inserted.update(row["key"] for row in cursor.fetchall())
            return _first_puts(batch, inserted)

        return await self._engine.run(insert)

    def _purge_due(self, now: datetime) -> bool:
        return self._purged is None or not self._purged <= now < self._purged + PURGE_EVERY

    def _purge(self, conn: sqlite3.Connection, now: datetime) -> None:
        # Forget done keys after the dedupe window and dead items after their retention.
        if not self._purge_due(now):
            return
        self._purged = now
        for state, keep in (("done", self.dedupe_window), ("dead", self.dead_retention)):
            conn.execute(
                "DELETE FROM queue_items WHERE state = ? AND finished_at < ?",
                (state, enc(now - keep)),
            )

    async def lease(
        self, *, kinds: Sequence[str] | None = None, limit: int = 1, ttl: timedelta, holder: str
    ) -> list[Lease]:
        """Lease up to ``limit`` ready items (of ``kinds``, or any), oldest first; may be empty.

        An item whose last attempt's lease ran out is moved to the dead letters instead.
        """
        check_ttl(ttl)
        if limit < 1 or (kinds is not None and not kinds):
            return []
        kind_filter = "" if kinds is None else f" AND kind IN ({', '.join('?' * len(kinds))})"

        def take(conn: sqlite3.Connection) -> list[Lease]:
            leases: list[Lease] = []
            with immediate(conn):
                now = self.clock()
                while len(leases) < limit:
                    rows: list[Row] = conn.execute(
                        "SELECT * FROM queue_items WHERE state = 'ready' AND ready_at <= ?"
                        f"{kind_filter} ORDER BY seq LIMIT ?",
                        (enc(now), *(kinds or ()), limit - len(leases)),
                    ).fetchall()
                    if not rows:
                        break
                    for row in rows:
                        if row["attempts"] >= self.max_attempts:
                            self._bury(conn, row["seq"], now)
                            continue
                        token = uuid.uuid4().hex
                        expires = now + ttl
                        conn.execute(
                            "UPDATE queue_items SET attempts = attempts + 1, token = ?, "
                            "holder = ?, ready_at = ? WHERE seq = ?",
                            (token, holder, enc(expires), row["seq"]),
                        )
                        leases.append(Lease(_item(row), token, row["attempts"] + 1, expires))
            return leases

        return await self._engine.run(take)

    def _bury(self, conn: sqlite3.Connection, seq: int, now: datetime) -> None:
        conn.execute(
            "UPDATE queue_items SET state = 'dead', token = NULL, finished_at = ? WHERE seq = ?",
            (enc(now), seq),
        )

    async def done(self, lease: Lease) -> None:
        """Finish the leased item; a lease that was re-leased since is ignored.

        Items of a batch finish together: ``done`` calls share commits as puts do.
        """
        await self._finishes((lease.item.key, lease.token))

    async def _finish(self, batch: Sequence[tuple[str, str]]) -> list[None]:
        def finish(conn: sqlite3.Connection) -> list[None]:
            with immediate(conn):
                now = enc(self.clock())
                conn.executemany(
                    "UPDATE queue_items SET state = 'done', payload = '{}', token = NULL, "
                    "finished_at = ? WHERE key = ? AND token = ? AND state = 'ready'",
                    [(now, key, token) for key, token in batch],
                )
            return [None] * len(batch)

        return await self._engine.run(finish)

    async def retry(self, lease: Lease, *, delay: timedelta) -> None:
        """Hand the item back after ``delay``; after its last attempt, to the dead letters."""

        def hand_back(conn: sqlite3.Connection) -> None:
            with immediate(conn):
                now = self.clock()
                row = conn.execute(
                    "SELECT seq, attempts FROM queue_items "
                    "WHERE key = ? AND token = ? AND state = 'ready'",
                    (lease.item.key, lease.token),
                ).fetchone()
                if row is None:
                    return  # re-leased (or finished) since: not ours to hand back
                if row["attempts"] >= self.max_attempts:
                    self._bury(conn, row["seq"], now)
                    return
                conn.execute(
                    "UPDATE queue_items SET token = NULL, ready_at = ? WHERE seq = ?",
                    (enc(now + max(delay, timedelta(0))), row["seq"]),
                )

        await self._engine.run(hand_back)

    async def depth(self) -> Mapping[str, int]:
        """Return how many items of each kind are waiting or leased."""
        rows: list[Row] = await self._engine.run(
            lambda conn: conn.execute(
                "SELECT kind, COUNT(*) AS n FROM queue_items WHERE state = 'ready' GROUP BY kind"
            ).fetchall()
        )
        return {row["kind"]: row["n"] for row in rows}

    async def erase_user(self, *, user: str) -> int:
        """Blank the payloads of waiting and dead items ``user`` wrote or clicked; count them.

        The rewritten pages are zeroed (``secure_delete``) and the write-ahead log truncated,
        so the file keeps no copy of the text.
        """

        def erase(conn: sqlite3.Connection) -> int:
            with immediate(conn):
                cursor = conn.execute(
                    "UPDATE queue_items SET payload = '{}' WHERE state IN ('ready', 'dead') "
                    "AND ? IN (json_extract(payload, '$.body.event.user'), "
                    "json_extract(payload, '$.body.user.id'))",
                    (user,),
                )
            if cursor.rowcount:
                truncate_log(conn)
            return cursor.rowcount

        return await self._engine.run(erase)

    async def dead_letters(self, *, limit: int = 100) -> list[WorkItem]:
        """Return up to ``limit`` dead items, oldest first, leaving them in place."""
        rows: list[Row] = await self._engine.run(
            lambda conn: conn.execute(
                "SELECT * FROM queue_items WHERE state = 'dead' ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()
        )
        return [_item(row) for row in rows]

    async def probe(self) -> bool:
        """Return True when a heartbeat row can be written and the disk has room for puts."""

        def beat(conn: sqlite3.Connection) -> None:
            with immediate(conn):
                conn.execute(
                    "INSERT INTO queue_heartbeat (id, at) VALUES (1, ?) "
                    "ON CONFLICT (id) DO UPDATE SET at = excluded.at",
                    (enc(self.clock()),),
                )

        try:
            await self._engine.run(beat)
            stat = os.statvfs(self._engine.path)
        except (QueueError, OSError):
            return False
        return stat.f_bavail * stat.f_frsize >= self.min_free_bytes


def _insert_at_once(conn: sqlite3.Connection, batch: Sequence[PutRow], now: datetime) -> list[bool]:
    """Insert ``batch`` in one statement, which is its own transaction; return who added a row.

    Each step of a statement is a trip out of Python and back for the GIL, and a trip waits for
    the event loop's thread to let go of it: BEGIN, one step per RETURNING row and COMMIT were
    most of an ack's wait under load (bench/bench_events.py). An autocommit INSERT takes the
    write lock as it begins, as BEGIN IMMEDIATE does, and commits as it ends.
    """
    before = conn.total_changes
    conn.execute(_insert_sql(len(batch)), _values(batch, now))
    added = conn.total_changes - before
    keys = dict.fromkeys(key for key, *_ in batch)
    if added == len(keys):
        inserted = set(keys)
    elif added == 0:
        inserted = set()
    else:  # some were known: AUTOINCREMENT gave the new rows higher seqs than any before
        marks = ", ".join("?" * len(keys))
        rows = conn.execute(
            f"SELECT key FROM queue_items WHERE key IN ({marks}) ORDER BY seq DESC LIMIT ?",
            (*keys, added),
        ).fetchall()
        inserted = {row["key"] for row in rows}
    return _first_puts(batch, inserted)


def _insert_sql(rows: int) -> str:
    marks = ", ".join(["(?, ?, ?, ?, ?, 'ready')"] * rows)
    return (
        "INSERT INTO queue_items (key, kind, payload, not_before, ready_at, state) "
        f"VALUES {marks} ON CONFLICT (key) DO NOTHING"
    )


def _values(batch: Sequence[PutRow], now: datetime) -> list[str | None]:
    return [
        value
        for key, kind, payload, not_before in batch
        for value in (key, kind, payload, _opt(not_before), enc(max(now, not_before or now)))
    ]


def _first_puts(batch: Sequence[PutRow], inserted: set[str]) -> list[bool]:
    # A key twice in one batch went in once: only its first put added it.
    added = []
    for key, *_ in batch:
        added.append(key in inserted)
        inserted.discard(key)
    return added


def _row(item: WorkItem) -> PutRow:
    # Checked here, before the item joins a batch: one bad item must not fail its batch.
    try:
        payload = dumps(dict(item.payload))
    except (TypeError, ValueError) as exc:
        raise QueueError(f"work item {item.key!r} payload is not JSON: {exc}") from exc
    try:
        for text in (item.key, item.kind, payload):
            text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise QueueError(f"text cannot be stored (not valid unicode): {exc.reason}") from exc
    return item.key, item.kind, payload, item.not_before


def _opt(value: datetime | None) -> str | None:
    return None if value is None else enc(value)
