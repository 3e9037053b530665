"""The SQLite store's engine room: one worker thread, one connection, paging, transactions.

Every sqlite3 call runs on one dedicated worker thread per store (never on the event loop), which
also serialises this process's writes. Across processes, atomic operations run inside
``BEGIN IMMEDIATE`` transactions with a busy timeout. Row decoders live here too, so that pages
are decoded on the worker thread rather than on the event loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from tuning.errors import StoreError
from tuning.records import Clock, Feedback, Interaction, JobRecord, ModelVersion, utcnow
from tuning.store import codec
from tuning.store.codec import decode_text as dec
from tuning.store.sqlite.schema import migrate
from tuning.store.sqlite.writable import prepare_path

T = TypeVar("T")
R = TypeVar("R")
Row = dict[str, Any]
FEEDBACK_COLUMNS = (
    "interaction_id, user, reaction, rating, created_at, updated_at, retracted, retracted_at"
)


def dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> Row:
    return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}


def fetch_page(
    sql: str, bind: dict[str, Any], decode: Callable[[Row], R], conn: sqlite3.Connection
) -> tuple[list[Row], list[R]]:
    rows = conn.execute(sql, bind).fetchall()
    return rows, [decode(row) for row in rows]


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """Run the block in a write transaction taken up front (no deferred lock upgrade)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:  # even cancellation: roll back, then re-raise
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def to_json(value: Any, what: str) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{what} cannot be stored as JSON: {exc}") from exc


def decode_interaction(row: Row) -> Interaction:
    with codec.decoding("interaction", row, "id"):
        row["candidates"] = json.loads(row["candidates"])
    return codec.interaction_from_dict(row, dec)


def decode_feedback(row: Row) -> Feedback:
    return codec.feedback_from_dict(row, dec)


def decode_model(row: Row) -> ModelVersion:
    with codec.decoding("model", row, "task", "version"):
        row["metrics"] = json.loads(row["metrics"])
    return codec.model_from_dict(row, dec)


def decode_job(row: Row) -> JobRecord:
    with codec.decoding("job", row, "id"):
        body = json.loads(row["body"])
    return codec.job_from_dict(body, dec)


class SqliteEngine:
    """The connection, worker thread and paging that every SQLite store method runs through."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 15.0,
        page_size: int = 1000,
        clock: Clock = utcnow,
    ) -> None:
        self.path = Path(path)
        self.clock = clock
        self.page_size = page_size
        self._busy_timeout = busy_timeout
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        self._conn: sqlite3.Connection | None = None
        self._closed = False

    async def _run(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise StoreError(f"sqlite store {self.path} is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, operation)

    def _call(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._connection()
        try:
            return operation(conn)
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite store {self.path}: {exc}") from exc
        except UnicodeEncodeError as exc:
            raise StoreError(f"text cannot be stored (not valid unicode): {exc.reason}") from exc

    def _connection(self) -> sqlite3.Connection:
        # Runs on the worker thread only, so the connection never crosses threads.
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def _connect(self) -> sqlite3.Connection:
        created = prepare_path(self.path)
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout,
                isolation_level=None,  # autocommit; transactions are explicit BEGIN IMMEDIATE
                check_same_thread=False,
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
            self._enable_wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")  # durable enough with WAL, much faster
            migrate(conn)
            conn.row_factory = dict_row
        except sqlite3.Error as exc:
            if created:
                self.path.unlink(missing_ok=True)
            # OperationalError: locked, read-only, I/O; anything else: not a usable database.
            verb = "write" if isinstance(exc, sqlite3.OperationalError) else "open"
            raise StoreError(
                f"STORE_URL: cannot {verb} sqlite database at {self.path} ({exc})"
            ) from exc
        return conn

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

    async def open(self) -> None:
        """Create the directory, database and schema when missing; idempotent."""
        await self._run(lambda conn: None)

    async def close(self) -> None:
        """Close the connection and stop the worker thread."""
        if self._closed:
            return

        def shut(conn: sqlite3.Connection) -> None:
            conn.close()
            self._conn = None

        if self._conn is not None:
            await self._run(shut)
        self._closed = True
        self._executor.shutdown(wait=False)

    async def ping(self) -> bool:
        """Return True when the database answers ``SELECT 1``."""
        try:
            return await self._run(lambda conn: conn.execute("SELECT 1").fetchone() is not None)
        except StoreError:
            return False

    async def _page(
        self,
        sql: str,
        bind: dict[str, Any],
        after: Callable[[Row], dict[str, Any]],
        decode: Callable[[Row], R],
    ) -> AsyncIterator[R]:
        """Yield the decoded rows of ``sql`` batch by batch, continuing after the last row's key.

        ``bind`` starts with the :after_* keys at "" (below every stored value). Each batch is its
        own short read, so a slow consumer never holds a transaction open; the next batch is
        fetched and decoded on the worker thread while this one is consumed.
        """
        bind = {**bind, "limit": self.page_size}
        fetch: asyncio.Future[tuple[list[Row], list[R]]] | None
        fetch = asyncio.ensure_future(self._run(partial(fetch_page, sql, bind, decode)))
        try:
            while fetch is not None:
                rows, items = await fetch
                fetch = None
                if len(rows) == self.page_size:
                    bind = {**bind, **after(rows[-1])}
                    fetch = asyncio.ensure_future(self._run(partial(fetch_page, sql, bind, decode)))
                for item in items:
                    yield item
        finally:
            if fetch is not None:
                fetch.cancel()
