"""A minimal SQLite WorkQueue for the bot's tests, until tuning.queue's SqliteQueue lands.

Only here, never in production code: the bot's harness passes it to ``start_bot(queue=...)``.
It keeps the interface's promises the bot relies on: a durable put (committed before it
returns, one item per key), leases that hide an item until they expire, done, retry with a
delay, dead letters after MAX_ATTEMPTS, depth, a write probe. ``broken`` makes every call
raise QueueError, as a full disk would.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

from tuning.errors import QueueError
from tuning.queue.base import MAX_ATTEMPTS, Lease, WorkItem, WorkQueue
from tuning.records import Clock, utcnow

T = TypeVar("T")
SCHEMA = """
CREATE TABLE IF NOT EXISTS work (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    ready_at TEXT NOT NULL,
    token TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'ready'
);
CREATE TABLE IF NOT EXISTS beat (id INTEGER PRIMARY KEY, at TEXT NOT NULL);
"""


class TestSqliteQueue(WorkQueue):
    """A WorkQueue in one SQLite file; several instances on one file act as replicas."""

    __test__ = False  # not a pytest class

    def __init__(self, path: Path, *, clock: Clock = utcnow) -> None:
        self.path, self.clock = path, clock
        self.broken = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-queue")
        self._conn: sqlite3.Connection | None = None

    async def _run(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        if self.broken:
            raise QueueError("the work queue is unavailable (test fault)")
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, self._call, operation
        )

    def _call(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        try:
            if self._conn is None:
                self._conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.executescript(SCHEMA)
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                result = operation(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            return result
        except sqlite3.Error as exc:
            raise QueueError(f"work queue: {exc}") from exc

    async def open(self) -> None:
        """Create the tables."""
        await self._run(lambda conn: None)

    async def close(self) -> None:
        """Close the connection; leased items stay leased."""

        def shut() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await asyncio.get_running_loop().run_in_executor(self._executor, shut)
        self._executor.shutdown(wait=True)

    def _now(self) -> str:
        return self.clock().isoformat()

    async def put(self, item: WorkItem) -> bool:
        """Store ``item`` unless its key was put before."""
        ready = (item.not_before or self.clock()).isoformat()
        payload = json.dumps(dict(item.payload))

        def insert(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO work (key, kind, payload, ready_at) VALUES (?, ?, ?, ?)",
                (item.key, item.kind, payload, ready),
            )
            return cursor.rowcount > 0

        return await self._run(insert)

    async def lease(
        self, *, kinds: Sequence[str] | None = None, limit: int = 1, ttl: timedelta, holder: str
    ) -> list[Lease]:
        """Lease up to ``limit`` ready items, oldest first."""
        now = self.clock()

        def take(conn: sqlite3.Connection) -> list[Lease]:
            where = "state = 'ready' AND ready_at <= ?"
            bind: list[object] = [now.isoformat()]
            if kinds is not None:
                where += f" AND kind IN ({', '.join('?' * len(kinds))})"
                bind += list(kinds)
            rows = conn.execute(
                f"SELECT seq, key, kind, payload, attempts FROM work WHERE {where} "
                "ORDER BY seq LIMIT ?",
                (*bind, limit),
            ).fetchall()
            leases = []
            for seq, key, kind, payload, attempts in rows:
                if attempts >= MAX_ATTEMPTS:
                    conn.execute("UPDATE work SET state = 'dead' WHERE seq = ?", (seq,))
                    continue
                token, expires = uuid.uuid4().hex, now + ttl
                conn.execute(
                    "UPDATE work SET token = ?, ready_at = ?, attempts = attempts + 1 "
                    "WHERE seq = ?",
                    (token, expires.isoformat(), seq),
                )
                item = WorkItem(key=key, kind=kind, payload=json.loads(payload))
                leases.append(Lease(item, token, attempts + 1, expires))
            return leases

        return await self._run(take)

    async def done(self, lease: Lease) -> None:
        """Finish the item, unless its lease was taken over."""
        await self._run(
            lambda conn: conn.execute(
                "UPDATE work SET state = 'done' WHERE key = ? AND token = ?",
                (lease.item.key, lease.token),
            )
        )

    async def retry(self, lease: Lease, *, delay: timedelta) -> None:
        """Hand the item back, ready after ``delay``."""
        ready = (self.clock() + delay).isoformat()
        await self._run(
            lambda conn: conn.execute(
                "UPDATE work SET ready_at = ?, token = NULL WHERE key = ? AND token = ?",
                (ready, lease.item.key, lease.token),
            )
        )

    async def depth(self) -> Mapping[str, int]:
        """Count the items not done and not dead, by kind."""
        rows = await self._run(
            lambda conn: conn.execute(
                "SELECT kind, COUNT(*) FROM work WHERE state = 'ready' GROUP BY kind"
            ).fetchall()
        )
        return {kind: int(count) for kind, count in rows}

    async def probe(self) -> bool:
        """Write a heartbeat row."""
        try:
            await self._run(
                lambda conn: conn.execute(
                    "INSERT OR REPLACE INTO beat (id, at) VALUES (1, ?)", (self._now(),)
                )
            )
        except QueueError:
            return False
        return True

    async def states(self) -> dict[str, str]:
        """Return each key's state (tests assert on it)."""
        rows = await self._run(lambda conn: conn.execute("SELECT key, state FROM work").fetchall())
        return dict(rows)
