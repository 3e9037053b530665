"""The SQLite queue's engine room: one worker thread, one connection, WAL, its own tables.

It follows the store's engine (:mod:`tuning.store.sqlite.engine`): every sqlite3 call runs on one
dedicated worker thread (never on the event loop), and atomic operations run inside
``BEGIN IMMEDIATE`` with a busy timeout, so several processes can share the file. The queue's
tables live beside the store's in the same file; they are created with ``IF NOT EXISTS`` and
do not touch the store's schema version.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from tuning.errors import QueueError
from tuning.store.sqlite.engine import dict_row, immediate

T = TypeVar("T")
Row = dict[str, Any]

SCHEMA = (
    # ready_at: not leased before (not_before, a retry's delay, or a live lease's expiry).
    # state: ready (waiting or leased), done or dead. Done rows keep only their key, for dedupe.
    """
    CREATE TABLE IF NOT EXISTS queue_items (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        not_before TEXT,
        state TEXT NOT NULL,
        ready_at TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        token TEXT,
        holder TEXT,
        finished_at TEXT
    )
    """,
    "CREATE INDEX IF NOT EXISTS queue_items_ready ON queue_items (state, kind, seq)",
    "CREATE INDEX IF NOT EXISTS queue_items_finished ON queue_items (state, finished_at)",
    "CREATE TABLE IF NOT EXISTS queue_heartbeat (id INTEGER PRIMARY KEY, at TEXT NOT NULL)",
)


class QueueEngine:
    """The connection and worker thread that every SQLite queue method runs through."""

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 15.0) -> None:
        self.path = Path(path)
        self._busy_timeout = busy_timeout
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-queue")
        self._conn: sqlite3.Connection | None = None
        self._closed = False

    async def run(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``operation`` on the worker thread; raise QueueError for any sqlite3 failure."""
        if self._closed:
            raise QueueError(f"sqlite queue {self.path} is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, operation)

    def _call(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        try:
            conn = self._connection()
            return operation(conn)
        except sqlite3.Error as exc:
            raise QueueError(f"sqlite queue {self.path}: {exc}") from exc
        except UnicodeEncodeError as exc:
            raise QueueError(f"work item cannot be stored (not valid unicode): {exc}") from exc

    def _connection(self) -> sqlite3.Connection:
        # Runs on the worker thread only, so the connection never crosses threads.
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise QueueError(
                f"QUEUE_URL: cannot create the directory of {self.path} ({exc.strerror})"
            ) from exc
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout,
                isolation_level=None,  # autocommit; transactions are explicit BEGIN IMMEDIATE
                check_same_thread=False,
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
            self._enable_wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")  # durable across a crash with WAL
            with immediate(conn):
                for statement in SCHEMA:
                    conn.execute(statement)
            conn.row_factory = dict_row
        except sqlite3.Error as exc:
            raise QueueError(f"QUEUE_URL: cannot open sqlite queue at {self.path} ({exc})") from exc
        return conn

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        # As in the store: a new file's switch to WAL reports "locked" at once when two processes
        # race for it, without SQLite's busy handler; the mode persists, so retry until one won.
        deadline = time.monotonic() + self._busy_timeout
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL")
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
            else:
                return

    async def close(self) -> None:
        """Close the connection and stop the worker thread."""
        if self._closed:
            return

        def shut(conn: sqlite3.Connection) -> None:
            conn.close()
            self._conn = None

        if self._conn is not None:
            await self.run(shut)
        self._closed = True
        self._executor.shutdown(wait=False)
