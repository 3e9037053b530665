"""The SQLite store's model registry, tuning jobs, channel settings, opt-outs and audit log."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection
from typing import Any

from tuning.errors import ConflictError, NotFoundError
from tuning.records import AuditEntry, ChannelSettings, JobRecord, ModelVersion, Task
from tuning.store import codec
from tuning.store.codec import decode_text as dec
from tuning.store.codec import encode_text as enc
from tuning.store.sqlite.engine import (
    Row,
    SqliteEngine,
    decode_job,
    decode_model,
    immediate,
    present,
    to_json,
)


class SqliteRegistry(SqliteEngine):
    """The administrative half of :class:`~tuning.store.sqlite.store.SqliteStore`."""

    async def add_model(self, model: ModelVersion) -> None:
        """Register a model version; raise ConflictError if (task, version) exists."""
        row = codec.model_to_dict(model, enc)
        row["metrics"] = to_json(row["metrics"], "model metrics")
        await self._insert(
            "models",
            row,
            conflict=f"{model.task} version {model.version!r} already exists"
            " (or another version is already active)",
        )

    async def _insert(self, table: str, row: dict[str, Any], *, conflict: str) -> None:
        """Insert ``row`` into ``table``; a uniqueness clash raises ConflictError(conflict)."""

        def insert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    f"INSERT INTO {table} ({', '.join(row)}) "
                    f"VALUES ({', '.join(':' + name for name in row)})",
                    row,
                )
            except sqlite3.IntegrityError as exc:
                raise ConflictError(conflict) from exc

        await self._run(insert)

    async def get_model(self, *, task: Task, version: str) -> ModelVersion | None:
        """Return one registered version, or None."""
        row = await self._run(lambda conn: self._model_row(conn, task, version))
        return None if row is None else decode_model(row)

    @staticmethod
    def _model_row(conn: sqlite3.Connection, task: str, version: str) -> Row | None:
        sql = "SELECT * FROM models WHERE task = ? AND version = ?"
        row: Row | None = conn.execute(sql, (task, version)).fetchone()
        return row

    @classmethod
    def _registered_row(cls, conn: sqlite3.Connection, task: str, version: str) -> Row:
        row = cls._model_row(conn, task, version)
        if row is None:
            raise NotFoundError(f"{task} version {version!r} is not registered")
        return row

    async def list_models(self, *, task: Task | None = None) -> list[ModelVersion]:
        """Return registered versions, newest first."""
        where = "" if task is None else " WHERE task = ?"
        sql = f"SELECT * FROM models{where} ORDER BY created_at DESC, version DESC"
        rows = await self._run(lambda conn: conn.execute(sql, () if task is None else (task,)))
        return [decode_model(row) for row in rows]

    async def promote(self, *, task: Task, version: str) -> ModelVersion:
        """Make ``version`` the one active model of ``task``, retiring the previous one atomically.

        Raise NotFoundError if the version is not registered.
        """

        def switch(conn: sqlite3.Connection) -> Row:
            with immediate(conn):
                row = self._registered_row(conn, task, version)
                if row["state"] == "active":
                    return row
                conn.execute(
                    "UPDATE models SET state = 'retired' WHERE task = ? AND state = 'active'",
                    (task,),
                )
                conn.execute(
                    "UPDATE models SET state = 'active', promoted_at = ? "
                    "WHERE task = ? AND version = ?",
                    (enc(self.clock()), task, version),
                )
                promoted = self._model_row(conn, task, version)
                assert promoted is not None  # we hold the write lock; it cannot have vanished
                return promoted

        return decode_model(await self._run(switch))

    async def update_model_metrics(
        self, *, task: Task, version: str, metrics: dict[str, float]
    ) -> None:
        """Merge ``metrics`` into a registered version; raise NotFoundError if it is missing."""

        def merge(conn: sqlite3.Connection) -> None:
            with immediate(conn):
                row = self._registered_row(conn, task, version)
                merged = {**decode_model(row).metrics, **metrics}
                conn.execute(
                    "UPDATE models SET metrics = ? WHERE task = ? AND version = ?",
                    (to_json(merged, "model metrics"), task, version),
                )

        await self._run(merge)

    # -- tuning jobs ---------------------------------------------------------------------------

    async def save_job(self, job: JobRecord) -> None:
        """Insert or replace a job record."""
        body = to_json(codec.job_to_dict(job, enc), f"job {job.id!r}")
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
        return None if row is None else decode_job(row)

    async def list_jobs(self, *, limit: int = 10, task: Task | None = None) -> list[JobRecord]:
        """Return the most recent jobs, newest first."""
        where = "" if task is None else " WHERE task = :task"
        sql = f"SELECT body FROM jobs{where} ORDER BY created_at DESC, id DESC LIMIT :limit"
        rows = await self._run(
            lambda conn: conn.execute(sql, {"task": task, "limit": limit}).fetchall()
        )
        return [decode_job(row) for row in rows]

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
                "INSERT OR REPLACE INTO channels (channel, threshold, mode, reaction, explore) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    settings.channel,
                    settings.threshold,
                    settings.mode,
                    settings.reaction,
                    settings.explore,
                ),
            )
        )

    async def set_opt_out(self, *, user: str, opted_out: bool) -> None:
        """Record whether a user opted out of flagging and storage."""
        await self._run(
            lambda conn: conn.execute(
                "INSERT OR REPLACE INTO optouts (user, opted_out, updated_at) VALUES (?, ?, ?)",
                (user, int(opted_out), enc(self.clock())),
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

    async def opted_out_among(self, users: Collection[str]) -> set[str]:
        """Return the users among ``users`` who opted out, in one query."""
        wanted = list(dict.fromkeys(users))
        return await self._run(
            lambda conn: set(present(conn, "optouts", "user", wanted, where="opted_out"))
        )

    async def add_audit(self, entry: AuditEntry) -> None:
        """Append an entry to the audit log."""
        detail = to_json(dict(entry.detail), "audit detail")
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
