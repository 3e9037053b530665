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
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any, NoReturn, TypeVar

from tuning.errors import StoreError
from tuning.records import Clock, Feedback, Interaction, JobRecord, ModelVersion, utcnow
from tuning.sqlite_thread import SqliteThread
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


# Well below SQLite's limit on one statement's parameters (999 before 3.32).
IN_CHUNK = 500


def present(
    conn: sqlite3.Connection, table: str, column: str, values: Sequence[str], *, where: str = ""
) -> Iterator[str]:
    """Yield the ``values`` found in ``table``.``column`` (and meeting ``where``), a chunk a query.

    ``table``, ``column`` and ``where`` are this package's own names, never user input.
    """
    extra = f" AND {where}" if where else ""
    for start in range(0, len(values), IN_CHUNK):
        chunk = values[start : start + IN_CHUNK]
        marks = ", ".join("?" * len(chunk))
        sql = f"SELECT {column} FROM {table} WHERE {column} IN ({marks}){extra}"
        for row in conn.execute(sql, chunk):
            yield row[column]


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


class SqliteEngine(SqliteThread):
    """The connection, worker thread and paging that every SQLite store method runs through."""

    error = StoreError
    what = "sqlite store"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 15.0,
        page_size: int = 1000,
        clock: Clock = utcnow,
    ) -> None:
        super().__init__(path, busy_timeout=busy_timeout, thread="sqlite-store")
        self.clock = clock
        self.page_size = page_size

    async def _run(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        return await self._run_on_thread(operation)

    def _prepare_path(self) -> bool:
        return prepare_path(self.path)

    def _prepare(self, conn: sqlite3.Connection) -> None:
        migrate(conn)
        conn.row_factory = dict_row

    def _open_failed(self, exc: sqlite3.Error) -> NoReturn:
        # OperationalError: locked, read-only, I/O; anything else: not a usable database.
        verb = "write" if isinstance(exc, sqlite3.OperationalError) else "open"
        raise StoreError(
            f"STORE_URL: cannot {verb} sqlite database at {self.path} ({exc})"
        ) from exc

    async def open(self) -> None:
        """Create the directory, database and schema when missing; idempotent."""
        await self._run(lambda conn: None)

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
