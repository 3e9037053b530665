"""The SQLite queue's engine room: one worker thread, one connection, WAL, its own tables.

It runs on :class:`tuning.sqlite_thread.SqliteThread`, as the store does: every sqlite3 call
runs on one dedicated worker thread (never on the event loop), and atomic operations run inside
``BEGIN IMMEDIATE`` with a busy timeout, so several processes can share the file. The queue's
tables live beside the store's in the same file; they are created with ``IF NOT EXISTS`` and
do not touch the store's schema version.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from tuning.errors import QueueError
from tuning.sqlite_thread import SqliteThread
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


class QueueEngine(SqliteThread):
    """The connection and worker thread that every SQLite queue method runs through."""

    error = QueueError
    what = "sqlite queue"

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 15.0) -> None:
        super().__init__(path, busy_timeout=busy_timeout, thread="sqlite-queue")

    async def run(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``operation`` on the worker thread; raise QueueError for any sqlite3 failure."""
        return await self._run_on_thread(operation)

    def _prepare_path(self) -> bool:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise QueueError(
                f"QUEUE_URL: cannot create the directory of {self.path} ({exc.strerror})"
            ) from exc
        return False

    def _prepare(self, conn: sqlite3.Connection) -> None:
        with immediate(conn):
            for statement in SCHEMA:
                conn.execute(statement)
        conn.row_factory = dict_row

    def _open_failed(self, exc: sqlite3.Error) -> NoReturn:
        raise QueueError(f"QUEUE_URL: cannot open sqlite queue at {self.path} ({exc})") from exc
