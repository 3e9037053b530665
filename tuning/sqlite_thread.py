"""One SQLite connection on one worker thread: what the store and the work queue both run through.

Every sqlite3 call runs on the thread (never on the event loop), which also serialises this
process's writes; across processes, atomic operations take ``BEGIN IMMEDIATE`` with a busy
timeout, and the file is in WAL mode. Subclasses say how to prepare a new connection (the
store migrates its schema, the queue creates its tables) and which error to raise.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NoReturn, TypeVar

from tuning.errors import SarcasmError

T = TypeVar("T")

TRUNCATE_ATTEMPTS = 5


def truncate_log(conn: sqlite3.Connection) -> None:
    """Copy the write-ahead log into the database and empty it, so no old page stays readable.

    ``secure_delete`` (set on every connection) zeroes deleted and rewritten cells, but the log
    still holds the pages as they were until it is checkpointed; TRUNCATE copies the log into
    the database and empties it. A reader in another process can hold the log back for a
    moment, so it is tried a few times; the next forget-me or purge tries again.
    """
    for attempt in range(TRUNCATE_ATTEMPTS):
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if not busy:
            return
        time.sleep(0.05 * (attempt + 1))


class SqliteThread:
    """A lazily opened connection, used only on its own worker thread."""

    error: type[SarcasmError] = SarcasmError  # what every sqlite3 failure becomes
    what = "sqlite database"  # how messages name it: "sqlite store", "sqlite queue"

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float, thread: str) -> None:
        self.path = Path(path)
        self._busy_timeout = busy_timeout
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=thread)
        self._conn: sqlite3.Connection | None = None
        self._closed = False

    async def _run_on_thread(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise self.error(f"{self.what} {self.path} is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, operation)

    def _call(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._connection()
        try:
            return operation(conn)
        except sqlite3.Error as exc:
            raise self.error(f"{self.what} {self.path}: {exc}") from exc
        except UnicodeEncodeError as exc:
            raise self.error(f"text cannot be stored (not valid unicode): {exc.reason}") from exc

    def _connection(self) -> sqlite3.Connection:
        # Runs on the worker thread only, so the connection never crosses threads.
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def _connect(self) -> sqlite3.Connection:
        created = self._prepare_path()
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
            # Deleted rows are overwritten with zeros, not left in free pages: forget-me and
            # retention must not leave a user's text readable in the file.
            conn.execute("PRAGMA secure_delete = ON")
            self._prepare(conn)
        except sqlite3.Error as exc:
            if created:
                self.path.unlink(missing_ok=True)
            self._open_failed(exc)
        return conn

    def _prepare_path(self) -> bool:
        """Make sure the file can be created; return whether this call will create it."""
        return False

    def _prepare(self, conn: sqlite3.Connection) -> None:
        """Set up a new connection: schema, row factory."""

    def _open_failed(self, exc: sqlite3.Error) -> NoReturn:
        raise self.error(f"cannot open {self.what} at {self.path} ({exc})") from exc

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        # Switching a new file to WAL needs an exclusive lock, and SQLite reports "database is
        # locked" at once, without its busy handler, when two processes (two replicas starting
        # together) try it at the same moment. The mode persists, so retry until one has won.
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
            await self._run_on_thread(shut)
        self._closed = True
        self._executor.shutdown(wait=False)
