"""The embedded default store: one SQLite file in WAL mode, safe across processes.

Every sqlite3 call runs on one dedicated worker thread per store (never on the event loop), which
also serialises this process's writes. Across processes, the atomic operations (claim, promote,
feedback) run inside ``BEGIN IMMEDIATE`` transactions with a busy timeout, so two bot replicas on
one file still see exactly one winner. Iterators page through results in batches by key, so no
read transaction stays open between batches.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from tuning.errors import ConflictError, NotFoundError, StoreError
from tuning.records import (
    AuditEntry,
    ChannelSettings,
    Feedback,
    Interaction,
    JobRecord,
    Kind,
    ModelVersion,
    Task,
    utcnow,
)
from tuning.store import codec
from tuning.store.base import Store
from tuning.store.codec import decode_text as dec
from tuning.store.codec import encode_text as enc
from tuning.store.sqlite_schema import migrate
from tuning.store.sqlite_writable import prepare_path

T = TypeVar("T")
R = TypeVar("R")
Row = dict[str, Any]
FEEDBACK_COLUMNS = (
    "interaction_id, user, reaction, rating, created_at, updated_at, retracted, retracted_at"
)


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> Row:
    return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}


def _fetch(
    sql: str, bind: dict[str, Any], decode: Callable[[Row], R], conn: sqlite3.Connection
) -> tuple[list[Row], list[R]]:
    rows = conn.execute(sql, bind).fetchall()
    return rows, [decode(row) for row in rows]


@contextmanager
def _immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """Run the block in a write transaction taken up front (no deferred lock upgrade)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _json(value: Any, what: str) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{what} cannot be stored as JSON: {exc}") from exc


def _interaction(row: Row) -> Interaction:
    with codec.decoding("interaction", row, "id"):
        row["candidates"] = json.loads(row["candidates"])
    return codec.interaction_from_dict(row, dec)


def _feedback(row: Row) -> Feedback:
    return codec.feedback_from_dict(row, dec)


def _model(row: Row) -> ModelVersion:
    with codec.decoding("model", row, "task", "version"):
        row["metrics"] = json.loads(row["metrics"])
    return codec.model_from_dict(row, dec)


def _job(row: Row) -> JobRecord:
    with codec.decoding("job", row, "id"):
        body = json.loads(row["body"])
    return codec.job_from_dict(body, dec)


class SqliteStore(Store):
    """A :class:`Store` in one SQLite file (created with its directory when missing)."""

    def __init__(
        self, path: str | os.PathLike[str], *, busy_timeout: float = 15.0, page_size: int = 1000
    ) -> None:
        self.path = Path(path)
        self.page_size = page_size
        self._busy_timeout = busy_timeout
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        self._conn: sqlite3.Connection | None = None
        self._closed = False

    # -- plumbing ------------------------------------------------------------------------------

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
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")  # durable enough with WAL, much faster
            migrate(conn)
            conn.row_factory = _dict_row
        except sqlite3.Error as exc:
            if created:
                self.path.unlink(missing_ok=True)
            raise StoreError(
                f"STORE_URL: cannot write sqlite database at {self.path} ({exc})"
            ) from exc
        return conn

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
        fetch = asyncio.ensure_future(self._run(partial(_fetch, sql, bind, decode)))
        try:
            while fetch is not None:
                rows, items = await fetch
                fetch = None
                if len(rows) == self.page_size:
                    bind = {**bind, **after(rows[-1])}
                    fetch = asyncio.ensure_future(self._run(partial(_fetch, sql, bind, decode)))
                for item in items:
                    yield item
        finally:
            if fetch is not None:
                fetch.cancel()

    # -- interactions --------------------------------------------------------------------------

    async def add_interaction(self, interaction: Interaction) -> None:
        """Store a new interaction; raise ConflictError if its id exists."""
        row = codec.interaction_to_dict(interaction, enc)
        row["candidates"] = _json(row["candidates"], "interaction candidates")

        def insert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    f"INSERT INTO interactions ({', '.join(row)}) "
                    f"VALUES ({', '.join(':' + name for name in row)})",
                    row,
                )
            except sqlite3.IntegrityError as exc:
                raise ConflictError(f"interaction {interaction.id!r} already exists") from exc

        await self._run(insert)

    async def update_interaction(self, interaction: Interaction) -> None:
        """Replace a stored interaction (same id); raise NotFoundError if it is missing."""
        row = codec.interaction_to_dict(interaction, enc)
        row["candidates"] = _json(row["candidates"], "interaction candidates")
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
        return None if row is None else _interaction(row)

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
        return None if row is None else _interaction(row)

    async def iter_interactions(
        self, *, kind: Kind | None = None, since: datetime | None = None
    ) -> AsyncIterator[Interaction]:
        """Yield interactions oldest first, optionally of one kind or created after ``since``."""
        sql = (
            "SELECT * FROM interactions WHERE created_at > :since"
            + (" AND kind = :kind" if kind is not None else "")
            + " AND (created_at, id) > (:after_created, :after_id)"
            " ORDER BY created_at, id LIMIT :limit"
        )
        bind = {
            "since": "" if since is None else enc(since),
            "kind": kind,
            "after_created": "",
            "after_id": "",
        }
        async for item in self._page(
            sql,
            bind,
            lambda r: {"after_created": r["created_at"], "after_id": r["id"]},
            _interaction,
        ):
            yield item

    # -- feedback ------------------------------------------------------------------------------

    async def add_feedback(
        self, *, interaction_id: str, user: str, reaction: str, rating: int
    ) -> Feedback:
        """Record feedback once per (interaction, user, reaction) and return the stored record.

        Adding it again is a no-op; adding it after a retraction reinstates it (with the new
        rating and ``updated_at``; ``retracted_at`` keeps the last retraction for the audit trail).
        """
        key = (interaction_id, user, reaction)

        def add(conn: sqlite3.Connection) -> Row:
            now = enc(utcnow())
            with _immediate(conn):
                conn.execute(
                    f"INSERT INTO feedback ({FEEDBACK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 0, NULL) "
                    "ON CONFLICT (interaction_id, user, reaction) DO UPDATE SET retracted = 0, "
                    "rating = excluded.rating, updated_at = excluded.updated_at "
                    "WHERE retracted = 1",
                    (*key, rating, now, now),
                )
                return self._feedback_row(conn, key)

        return _feedback(await self._run(add))

    async def retract_feedback(
        self, *, interaction_id: str, user: str, reaction: str
    ) -> Feedback | None:
        """Mark the feedback retracted (kept for audit) and return it, or None if never given."""
        key = (interaction_id, user, reaction)

        def retract(conn: sqlite3.Connection) -> Row | None:
            now = enc(utcnow())
            with _immediate(conn):
                cursor = conn.execute(
                    "UPDATE feedback SET retracted = 1, retracted_at = ?, updated_at = ? "
                    "WHERE interaction_id = ? AND user = ? AND reaction = ? AND retracted = 0",
                    (now, now, *key),
                )
                if cursor.rowcount == 0 and not self._feedback_exists(conn, key):
                    return None
                return self._feedback_row(conn, key)

        row = await self._run(retract)
        return None if row is None else _feedback(row)

    @staticmethod
    def _feedback_exists(conn: sqlite3.Connection, key: tuple[str, str, str]) -> bool:
        sql = "SELECT 1 FROM feedback WHERE interaction_id = ? AND user = ? AND reaction = ?"
        return conn.execute(sql, key).fetchone() is not None

    @staticmethod
    def _feedback_row(conn: sqlite3.Connection, key: tuple[str, str, str]) -> Row:
        row: Row = conn.execute(
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
        sql = (
            f"SELECT {FEEDBACK_COLUMNS} FROM feedback WHERE updated_at > :since"
            + (" AND interaction_id = :interaction_id" if interaction_id is not None else "")
            + ("" if include_retracted else " AND retracted = 0")
            + " AND (updated_at, interaction_id, user, reaction) > (:a_time, :a_id, :a_user, :a_re)"
            " ORDER BY updated_at, interaction_id, user, reaction LIMIT :limit"
        )
        bind = {
            "since": "" if since is None else enc(since),
            "interaction_id": interaction_id,
            "a_time": "",
            "a_id": "",
            "a_user": "",
            "a_re": "",
        }

        def after(row: Row) -> dict[str, Any]:
            return {
                "a_time": row["updated_at"],
                "a_id": row["interaction_id"],
                "a_user": row["user"],
                "a_re": row["reaction"],
            }

        async for item in self._page(sql, bind, after, _feedback):
            yield item

    # -- claims --------------------------------------------------------------------------------

    async def claim(self, key: str, *, ttl: timedelta, holder: str = "") -> bool:
        """Atomically claim ``key`` for ``ttl``; return True for exactly one concurrent caller.

        A live claim is never re-granted, not even to its own holder.
        """

        def take(conn: sqlite3.Connection) -> bool:
            with _immediate(conn):
                now = utcnow()  # read the clock only once we hold the write lock
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
        cutoff = enc(now or utcnow())
        return await self._run(
            lambda conn: (
                conn.execute("DELETE FROM claims WHERE expires_at <= ?", (cutoff,)).rowcount
            )
        )

    # -- model registry ------------------------------------------------------------------------

    async def add_model(self, model: ModelVersion) -> None:
        """Register a model version; raise ConflictError if (task, version) exists."""
        row = codec.model_to_dict(model, enc)
        row["metrics"] = _json(row["metrics"], "model metrics")

        def insert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    f"INSERT INTO models ({', '.join(row)}) "
                    f"VALUES ({', '.join(':' + name for name in row)})",
                    row,
                )
            except sqlite3.IntegrityError as exc:
                raise ConflictError(
                    f"{model.task} version {model.version!r} already exists"
                    " (or another version is already active)"
                ) from exc

        await self._run(insert)

    async def get_model(self, *, task: Task, version: str) -> ModelVersion | None:
        """Return one registered version, or None."""
        row = await self._run(lambda conn: self._model_row(conn, task, version))
        return None if row is None else _model(row)

    @staticmethod
    def _model_row(conn: sqlite3.Connection, task: str, version: str) -> Row | None:
        sql = "SELECT * FROM models WHERE task = ? AND version = ?"
        row: Row | None = conn.execute(sql, (task, version)).fetchone()
        return row

    async def list_models(self, *, task: Task | None = None) -> list[ModelVersion]:
        """Return registered versions, newest first."""
        where = "" if task is None else " WHERE task = ?"
        sql = f"SELECT * FROM models{where} ORDER BY created_at DESC, version DESC"
        rows = await self._run(lambda conn: conn.execute(sql, () if task is None else (task,)))
        return [_model(row) for row in rows]

    async def promote(self, *, task: Task, version: str) -> ModelVersion:
        """Make ``version`` the one active model of ``task``, retiring the previous one atomically.

        Raise NotFoundError if the version is not registered.
        """

        def switch(conn: sqlite3.Connection) -> Row:
            with _immediate(conn):
                row = self._model_row(conn, task, version)
                if row is None:
                    raise NotFoundError(f"{task} version {version!r} is not registered")
                if row["state"] == "active":
                    return row
                conn.execute(
                    "UPDATE models SET state = 'retired' WHERE task = ? AND state = 'active'",
                    (task,),
                )
                conn.execute(
                    "UPDATE models SET state = 'active', promoted_at = ? "
                    "WHERE task = ? AND version = ?",
                    (enc(utcnow()), task, version),
                )
                promoted = self._model_row(conn, task, version)
                assert promoted is not None  # we hold the write lock; it cannot have vanished
                return promoted

        return _model(await self._run(switch))

    async def update_model_metrics(
        self, *, task: Task, version: str, metrics: dict[str, float]
    ) -> None:
        """Merge ``metrics`` into a registered version; raise NotFoundError if it is missing."""

        def merge(conn: sqlite3.Connection) -> None:
            with _immediate(conn):
                row = self._model_row(conn, task, version)
                if row is None:
                    raise NotFoundError(f"{task} version {version!r} is not registered")
                merged = {**_model(row).metrics, **metrics}
                conn.execute(
                    "UPDATE models SET metrics = ? WHERE task = ? AND version = ?",
                    (_json(merged, "model metrics"), task, version),
                )

        await self._run(merge)

    # -- tuning jobs ---------------------------------------------------------------------------

    async def save_job(self, job: JobRecord) -> None:
        """Insert or replace a job record."""
        body = _json(codec.job_to_dict(job, enc), f"job {job.id!r}")
        await self._run(
            lambda conn: conn.execute(
                "INSERT INTO jobs (id, task, state, created_at, body) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET task = excluded.task, state = excluded.state, "
                "created_at = excluded.created_at, body = excluded.body",
                (job.id, job.task, job.state, enc(job.created_at), body),
            )
        )

    async def get_job(self, job_id: str) -> JobRecord | None:
        """Return one job, or None."""
        row = await self._run(
            lambda conn: conn.execute("SELECT body FROM jobs WHERE id = ?", (job_id,)).fetchone()
        )
        return None if row is None else _job(row)

    async def list_jobs(self, *, limit: int = 10, task: Task | None = None) -> list[JobRecord]:
        """Return the most recent jobs, newest first."""
        where = "" if task is None else " WHERE task = :task"
        sql = f"SELECT body FROM jobs{where} ORDER BY created_at DESC, id DESC LIMIT :limit"
        rows = await self._run(
            lambda conn: conn.execute(sql, {"task": task, "limit": limit}).fetchall()
        )
        return [_job(row) for row in rows]

    # -- channel settings, opt-outs, audit -----------------------------------------------------

    async def get_channel_settings(self, *, channel: str) -> ChannelSettings | None:
        """Return the stored settings of a channel, or None."""
        row = await self._run(
            lambda conn: conn.execute(
                "SELECT * FROM channels WHERE channel = ?", (channel,)
            ).fetchone()
        )
        return None if row is None else codec.channel_from_dict(row)

    async def put_channel_settings(self, settings: ChannelSettings) -> None:
        """Store a channel's settings."""
        await self._run(
            lambda conn: conn.execute(
                "INSERT OR REPLACE INTO channels (channel, threshold, mode, reaction) "
                "VALUES (?, ?, ?, ?)",
                (settings.channel, settings.threshold, settings.mode, settings.reaction),
            )
        )

    async def set_opt_out(self, *, user: str, opted_out: bool) -> None:
        """Record whether a user opted out of flagging and storage."""
        await self._run(
            lambda conn: conn.execute(
                "INSERT OR REPLACE INTO optouts (user, opted_out, updated_at) VALUES (?, ?, ?)",
                (user, int(opted_out), enc(utcnow())),
            )
        )

    async def is_opted_out(self, *, user: str) -> bool:
        """Return whether the user opted out (False when never recorded)."""
        row = await self._run(
            lambda conn: conn.execute(
                "SELECT opted_out FROM optouts WHERE user = ?", (user,)
            ).fetchone()
        )
        return bool(row and row["opted_out"])

    async def add_audit(self, entry: AuditEntry) -> None:
        """Append an entry to the audit log."""
        detail = _json(dict(entry.detail), "audit detail")
        await self._run(
            lambda conn: conn.execute(
                "INSERT INTO audit (actor, action, result, detail, at) VALUES (?, ?, ?, ?, ?)",
                (entry.actor, entry.action, entry.result, detail, enc(entry.at)),
            )
        )

    async def list_audit(self, *, limit: int = 50) -> list[AuditEntry]:
        """Return the most recent audit entries, newest first."""
        rows = await self._run(
            lambda conn: conn.execute(
                "SELECT * FROM audit ORDER BY at DESC, seq DESC LIMIT ?", (limit,)
            ).fetchall()
        )
        entries = []
        for row in rows:
            with codec.decoding("audit entry"):
                row["detail"] = json.loads(row["detail"])
            entries.append(codec.audit_from_dict(row, dec))
        return entries

    async def forget_user(self, *, user: str) -> int:
        """Delete the user's interactions (with their feedback) and feedback; return the count.

        The opt-out record is kept (it is how we keep honouring the opt-out), and so is the
        admin audit log. An empty ``user`` forgets nothing.
        """
        if not user:
            return 0

        def forget(conn: sqlite3.Connection) -> int:
            with _immediate(conn):
                on_theirs = conn.execute(
                    "DELETE FROM feedback WHERE interaction_id IN "
                    "(SELECT id FROM interactions WHERE user = ?)",
                    (user,),
                ).rowcount
                by_them = conn.execute("DELETE FROM feedback WHERE user = ?", (user,)).rowcount
                theirs = conn.execute("DELETE FROM interactions WHERE user = ?", (user,)).rowcount
            return int(on_theirs + by_them + theirs)

        return await self._run(forget)
