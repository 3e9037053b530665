"""The SQLite queue's engine room: one worker thread, one connection, WAL, its own tables.

It runs on :class:`tuning.sqlite_thread.SqliteThread`, as the store does: every sqlite3 call
runs on one dedicated worker thread (never on the event loop), and atomic operations run inside
``BEGIN IMMEDIATE`` with a busy timeout, so several processes can share the file. The queue's
tables live beside the store's in the same file; they are created with ``IF NOT EXISTS`` and
do not touch the store's schema version.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from tuning.errors import QueueError
from tuning.sqlite_thread import SqliteThread
from tuning.store.sqlite.engine import dict_row, immediate

log = logging.getLogger(__name__)

T = TypeVar("T")
Row = dict[str, Any]

# The queue's connection never checkpoints the write-ahead log itself (wal_autocheckpoint = 0):
# SQLite's automatic checkpoint runs inside the commit that crosses 1,000 log pages, on the
# queue's one thread, so the puts queued behind it (each an ack) waited out its copying and its
# fsyncs (bench/bench_events.py). A connection of its own, on a thread of its own, checkpoints
# instead after this many transactions, while the puts go on: a PASSIVE checkpoint blocks no
# writer.
CHECKPOINT_EVERY = 100
# A log that is only ever checkpointed while puts go on never starts over: a writer resets it
# only when it begins with every frame copied. Past this many frames (about 16 MB) the
# checkpointer copies what the PASSIVE pass missed, little by then, in RESTART mode, which holds
# new writers back meanwhile and makes the next put start the log afresh. It gives up on a
# reader in its way after RESTART_WAIT seconds rather than hold the puts back any longer.
RESTART_FRAMES = 4000
RESTART_WAIT = 0.05

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
        self._checkpointer = _Checkpointer(path, busy_timeout=RESTART_WAIT)
        self._since_checkpoint = 0
        self._checkpoint: asyncio.Task[None] | None = None

    async def run(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``operation`` on the worker thread; raise QueueError for any sqlite3 failure."""
        result = await self._run_on_thread(operation)
        self._since_checkpoint += 1
        if self._since_checkpoint >= CHECKPOINT_EVERY and self._checkpoint is None:
            self._since_checkpoint = 0
            self._checkpoint = asyncio.create_task(self._checkpoint_log())
        return result

    async def _checkpoint_log(self) -> None:
        try:
            await self._checkpointer.checkpoint()
        except QueueError as exc:  # the log grows until the next one; the store's commits help
            log.warning("sqlite queue: a WAL checkpoint failed (%s)", type(exc).__name__)
        finally:
            self._checkpoint = None

    async def close(self) -> None:
        """Finish a checkpoint under way, then close both connections."""
        if self._checkpoint is not None:
            await asyncio.wait([self._checkpoint])
        await self._checkpointer.close()
        await super().close()

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
        conn.execute("PRAGMA wal_autocheckpoint = 0")  # the checkpointer's connection does it
        conn.row_factory = dict_row

    def _open_failed(self, exc: sqlite3.Error) -> NoReturn:
        raise QueueError(f"QUEUE_URL: cannot open sqlite queue at {self.path} ({exc})") from exc


class _Checkpointer(SqliteThread):
    """A second connection to the queue's file that only checkpoints its write-ahead log."""

    error = QueueError
    what = "sqlite queue"

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float) -> None:
        super().__init__(path, busy_timeout=busy_timeout, thread="sqlite-queue-checkpoint")

    async def checkpoint(self) -> None:
        """Copy what the log holds into the database file; start it afresh once it is long."""

        def copy(conn: sqlite3.Connection) -> None:
            _, frames, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if frames >= RESTART_FRAMES:
                conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()

        await self._run_on_thread(copy)
