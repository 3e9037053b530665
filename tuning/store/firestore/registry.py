"""The Firestore store's model registry, tuning jobs, channel settings, opt-outs and audit log."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from typing import Any

from google.api_core import exceptions as api_errors
from google.cloud.firestore import AsyncDocumentReference, AsyncTransaction, FieldFilter, Query

from tuning.errors import ConflictError, NotFoundError
from tuning.records import AuditEntry, ChannelSettings, JobRecord, ModelVersion, Task
from tuning.store import codec
from tuning.store.firestore.docs import decode_time as dec
from tuning.store.firestore.docs import encode_time as enc
from tuning.store.firestore.docs import translated
from tuning.store.firestore.engine import FirestoreEngine


class FirestoreRegistry(FirestoreEngine):
    """The administrative half of :class:`~tuning.store.firestore.store.FirestoreStore`."""

    # -- model registry ------------------------------------------------------------------------

    def _model_ref(self, task: str, version: str) -> AsyncDocumentReference:
        return self._doc("models", f"{task}:{version}")

    @translated
    async def add_model(self, model: ModelVersion) -> None:
        """Register a model version; raise ConflictError if (task, version) exists."""
        if model.state == "active":
            # Registering an active version must go through the task's pointer, like promote().
            await self.add_model(replace(model, state="candidate", promoted_at=None))
            await self.promote(task=model.task, version=model.version)
            return
        try:
            await self._model_ref(model.task, model.version).create(codec.model_to_dict(model, enc))
        except api_errors.AlreadyExists as exc:
            raise ConflictError(f"{model.task} version {model.version!r} already exists") from exc

    @translated
    async def get_model(self, *, task: Task, version: str) -> ModelVersion | None:
        """Return one registered version, or None."""
        snapshot = await self._model_ref(task, version).get()
        return codec.model_from_dict(snapshot.to_dict() or {}, dec) if snapshot.exists else None

    @translated
    async def list_models(self, *, task: Task | None = None) -> list[ModelVersion]:
        """Return registered versions, newest first."""
        query: Any = self._col("models")
        if task is not None:
            query = query.where(filter=FieldFilter("task", "==", task))
        models = [codec.model_from_dict(s.to_dict() or {}, dec) for s in await query.get()]
        # The registry is small: sort here rather than need a composite index.
        return sorted(models, key=lambda m: (m.created_at, m.version), reverse=True)

    @translated
    async def promote(self, *, task: Task, version: str) -> ModelVersion:
        """Make ``version`` the one active model of ``task``, retiring the previous one atomically.

        Raise NotFoundError if the version is not registered.
        """
        ref = self._model_ref(task, version)
        pointer = self._doc("active_models", task)
        actives = (
            self._col("models")
            .where(filter=FieldFilter("task", "==", task))
            .where(filter=FieldFilter("state", "==", "active"))
        )

        async def switch(transaction: AsyncTransaction) -> ModelVersion:
            # Every promotion reads and writes the pointer, so concurrent ones serialise even
            # when no version is active yet (an empty query result locks nothing).
            await pointer.get(transaction=transaction)
            snapshot = await ref.get(transaction=transaction)
            if not snapshot.exists:
                raise NotFoundError(f"{task} version {version!r} is not registered")
            current = [s async for s in actives.stream(transaction=transaction)]
            target = codec.model_from_dict(snapshot.to_dict() or {}, dec)
            now = self.clock()
            for other in current:
                if other.reference.path != ref.path:
                    transaction.update(other.reference, {"state": "retired"})
            if target.state != "active":
                transaction.update(ref, {"state": "active", "promoted_at": now})
                target = replace(target, state="active", promoted_at=now)
            transaction.set(pointer, {"task": task, "version": version, "updated_at": now})
            return target

        return await self._transact(pointer.path, switch)

    @translated
    async def update_model_metrics(
        self, *, task: Task, version: str, metrics: dict[str, float]
    ) -> None:
        """Merge ``metrics`` into a registered version; raise NotFoundError if it is missing."""
        ref = self._model_ref(task, version)

        async def merge(transaction: AsyncTransaction) -> None:
            snapshot = await ref.get(transaction=transaction)
            if not snapshot.exists:
                raise NotFoundError(f"{task} version {version!r} is not registered")
            stored = codec.model_from_dict(snapshot.to_dict() or {}, dec)
            transaction.update(ref, {"metrics": {**stored.metrics, **metrics}})

        await self._transact(self._doc("active_models", task).path, merge)

    # -- tuning jobs ---------------------------------------------------------------------------

    @translated
    async def save_job(self, job: JobRecord) -> None:
        """Insert or replace a job record."""
        await self._doc("jobs", job.id).set(codec.job_to_dict(job, enc))

    @translated
    async def get_job(self, job_id: str) -> JobRecord | None:
        """Return one job, or None."""
        snapshot = await self._doc("jobs", job_id).get()
        return codec.job_from_dict(snapshot.to_dict() or {}, dec) if snapshot.exists else None

    @translated
    async def list_jobs(self, *, limit: int = 10, task: Task | None = None) -> list[JobRecord]:
        """Return the most recent jobs, newest first."""
        query: Any = self._col("jobs")
        if task is not None:
            query = query.where(filter=FieldFilter("task", "==", task))
        query = query.order_by("created_at", direction=Query.DESCENDING).limit(limit)
        return [codec.job_from_dict(s.to_dict() or {}, dec) for s in await query.get()]

    # -- channel settings, opt-outs, audit -----------------------------------------------------

    @translated
    async def get_channel_settings(self, *, channel: str) -> ChannelSettings | None:
        """Return the stored settings of a channel, or None."""
        snapshot = await self._doc("channels", channel).get()
        return codec.channel_from_dict(snapshot.to_dict() or {}) if snapshot.exists else None

    @translated
    async def put_channel_settings(self, settings: ChannelSettings) -> None:
        """Store a channel's settings."""
        await self._doc("channels", settings.channel).set(
            {
                "channel": settings.channel,
                "threshold": settings.threshold,
                "mode": settings.mode,
                "reaction": settings.reaction,
                "explore": settings.explore,
            }
        )

    @translated
    async def set_opt_out(self, *, user: str, opted_out: bool) -> None:
        """Record whether a user opted out of flagging and storage."""
        await self._doc("optouts", user).set(
            {"user": user, "opted_out": opted_out, "updated_at": self.clock()}
        )

    @translated
    async def is_opted_out(self, *, user: str) -> bool:
        """Return whether the user opted out (False when never recorded)."""
        snapshot = await self._doc("optouts", user).get()
        return bool(snapshot.exists and snapshot.get("opted_out"))

    @translated
    async def opted_out_among(self, users: Collection[str]) -> set[str]:
        """Return the users among ``users`` who opted out, read in batches."""
        return await self._existing("optouts", users, flag="opted_out")

    @translated
    async def add_audit(self, entry: AuditEntry) -> None:
        """Append an entry to the audit log."""
        await self._col("audit").add(
            {
                "actor": entry.actor,
                "action": entry.action,
                "result": entry.result,
                "detail": dict(entry.detail),
                "at": enc(entry.at),
            }
        )

    @translated
    async def list_audit(self, *, limit: int = 50) -> list[AuditEntry]:
        """Return the most recent audit entries, newest first."""
        query = self._col("audit").order_by("at", direction=Query.DESCENDING).limit(limit)
        return [codec.audit_from_dict(s.to_dict() or {}, dec) for s in await query.get()]
