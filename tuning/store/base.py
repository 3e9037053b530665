"""The one async interface for everything sarcasm-bot persists.

Implementations provide the abstract primitives; the derived operations (rollback, defaults,
counting) are written once here. Getters return ``None`` for "not found"; anything broken raises
:class:`~tuning.errors.StoreError`, and actions on missing things raise ``NotFoundError``.
A store reads the time only from its ``clock`` (claim expiry, ``expires_at``, feedback and
promotion timestamps), so tests move time forward instead of sleeping.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Collection
from datetime import datetime, timedelta

from tuning.errors import NotFoundError
from tuning.records import (
    AuditEntry,
    ChannelSettings,
    Clock,
    Correction,
    Erased,
    Feedback,
    Interaction,
    JobRecord,
    Kind,
    Manifest,
    ModelVersion,
    Task,
    model_manifest_id,
)


class Store(abc.ABC):
    """Async persistence for interactions, feedback, claims, models, jobs and settings."""

    # The time this store judges claims by and stamps records with; implementations take it as
    # ``clock=`` (default :func:`~tuning.records.utcnow`).
    clock: Clock

    # -- lifecycle -----------------------------------------------------------------------------

    async def open(self) -> None:  # noqa: B027 - optional hook with a no-op default
        """Prepare the store for use (create schema, connect); idempotent."""

    async def close(self) -> None:  # noqa: B027 - optional hook with a no-op default
        """Release connections; the store is unusable afterwards."""

    @abc.abstractmethod
    async def ping(self) -> bool:
        """Return True when the store answers a trivial read."""

    # -- interactions --------------------------------------------------------------------------

    @abc.abstractmethod
    async def add_interaction(self, interaction: Interaction) -> None:
        """Store a new interaction; raise ConflictError if its id exists."""

    @abc.abstractmethod
    async def update_interaction(self, interaction: Interaction) -> None:
        """Replace a stored interaction (same id); raise NotFoundError if it is missing."""

    @abc.abstractmethod
    async def get_interaction(self, interaction_id: str) -> Interaction | None:
        """Return the interaction with this id, or None."""

    async def recorded_interactions(self, ids: Collection[str]) -> set[str]:
        """Return the ids among ``ids`` that name a stored interaction (empty when none do).

        Derived: one :meth:`get_interaction` each; a backend may answer all in one query.
        """
        return {i for i in ids if await self.get_interaction(i) is not None}

    @abc.abstractmethod
    async def find_interaction(self, *, channel: str, ts: str) -> Interaction | None:
        """Return the interaction whose ``ts`` or ``reply_ts`` is this message, or None."""

    @abc.abstractmethod
    def iter_interactions(
        self, *, kind: Kind | None = None, since: datetime | None = None
    ) -> AsyncIterator[Interaction]:
        """Yield interactions oldest first, optionally of one kind or created after ``since``."""

    @abc.abstractmethod
    async def linked_interactions(self, *, parent_id: str) -> list[Interaction]:
        """Return the interactions whose ``parent_id`` is this id, oldest first (maybe none).

        These are the *Try again* replies to the prompt the interaction ``parent_id`` answered.
        """

    # -- feedback ------------------------------------------------------------------------------

    @abc.abstractmethod
    async def add_feedback(
        self, *, interaction_id: str, user: str, reaction: str, rating: int, event_ts: str = ""
    ) -> Feedback:
        """Record feedback once per (interaction, user, reaction) and return the stored record.

        Adding it again is a no-op; adding it after a retraction reinstates it. With an
        ``event_ts`` (the Slack event's), writes apply in event order: an add no newer than the
        last add or retraction of the key is ignored (and returns the stored record, or a
        retracted one if the key was only ever retracted).
        """

    @abc.abstractmethod
    async def retract_feedback(
        self, *, interaction_id: str, user: str, reaction: str, event_ts: str = ""
    ) -> Feedback | None:
        """Mark the feedback retracted (kept for audit) and return it, or None if never given.

        With an ``event_ts``, a retraction no newer than the key's last write is ignored, and a
        retraction of feedback never given is remembered, so a late add from before it is too.
        """

    @abc.abstractmethod
    def iter_feedback(
        self,
        *,
        interaction_id: str | None = None,
        since: datetime | None = None,
        include_retracted: bool = False,
    ) -> AsyncIterator[Feedback]:
        """Yield feedback oldest first, filtered by interaction and by ``updated_at > since``."""

    # -- corrections ---------------------------------------------------------------------------

    @abc.abstractmethod
    async def add_correction(self, correction: Correction) -> None:
        """Store a person's better reply; one per (interaction, user), a later one replaces it."""

    @abc.abstractmethod
    def iter_corrections(self, *, since: datetime | None = None) -> AsyncIterator[Correction]:
        """Yield corrections oldest first, optionally only those created after ``since``."""

    # -- claims, leases and expiry -------------------------------------------------------------

    @abc.abstractmethod
    async def claim(self, key: str, *, ttl: timedelta, holder: str = "") -> bool:
        """Atomically claim ``key`` for ``ttl``; return True for exactly one concurrent caller.

        A claim whose ttl has passed counts as free. Used for Slack event ids, one reply per
        message, and the scheduler's lease.
        """

    @abc.abstractmethod
    async def release(self, key: str, *, holder: str = "") -> None:
        """Drop a claim held by ``holder``; a claim held by someone else is left alone."""

    @abc.abstractmethod
    async def purge_expired(self, *, now: datetime | None = None) -> int:
        """Delete expired claims and return how many were deleted."""

    # -- model registry ------------------------------------------------------------------------

    @abc.abstractmethod
    async def add_model(self, model: ModelVersion) -> None:
        """Register a model version; raise ConflictError if (task, version) exists."""

    @abc.abstractmethod
    async def get_model(self, *, task: Task, version: str) -> ModelVersion | None:
        """Return one registered version, or None."""

    @abc.abstractmethod
    async def list_models(self, *, task: Task | None = None) -> list[ModelVersion]:
        """Return registered versions, newest first."""

    @abc.abstractmethod
    async def promote(self, *, task: Task, version: str) -> ModelVersion:
        """Make ``version`` the one active model of ``task``, retiring the previous one atomically.

        Raise NotFoundError if the version is not registered.
        """

    @abc.abstractmethod
    async def update_model_metrics(
        self, *, task: Task, version: str, metrics: dict[str, float]
    ) -> None:
        """Merge ``metrics`` into a registered version; raise NotFoundError if it is missing."""

    async def active_model(self, *, task: Task) -> ModelVersion | None:
        """Return the active version of ``task``, or None."""
        for model in await self.list_models(task=task):
            if model.state == "active":
                return model
        return None

    async def rollback(self, *, task: Task) -> ModelVersion:
        """Reactivate the most recently active version before the current one.

        Versions whose manifest is affected (built from forgotten or expired data) are passed
        over. Raise NotFoundError when there is nothing to roll back to.
        """
        previous = sorted(
            (
                m
                for m in await self.list_models(task=task)
                if m.state == "retired" and m.promoted_at is not None
            ),
            key=lambda m: m.promoted_at or m.created_at,
            reverse=True,
        )
        skipped = 0
        for model in previous:
            manifest = await self.get_manifest(model_manifest_id(task=task, version=model.version))
            if manifest is None or not manifest.affected:
                return await self.promote(task=task, version=model.version)
            skipped += 1
        flagged = (
            f" ({skipped} built from forgotten or expired data passed over)" if skipped else ""
        )
        raise NotFoundError(f"no earlier {task} version to roll back to{flagged}")

    # -- tuning jobs ---------------------------------------------------------------------------

    @abc.abstractmethod
    async def save_job(self, job: JobRecord) -> None:
        """Insert or replace a job record."""

    @abc.abstractmethod
    async def get_job(self, job_id: str) -> JobRecord | None:
        """Return one job, or None."""

    @abc.abstractmethod
    async def list_jobs(self, *, limit: int = 10, task: Task | None = None) -> list[JobRecord]:
        """Return the most recent jobs, newest first."""

    async def running_jobs(self) -> list[JobRecord]:
        """Return jobs that have not ended, newest first."""
        return [job for job in await self.list_jobs(limit=50) if not job.ended]

    # -- channel settings, opt-outs, audit -----------------------------------------------------

    @abc.abstractmethod
    async def get_channel_settings(self, *, channel: str) -> ChannelSettings | None:
        """Return the stored settings of a channel, or None."""

    @abc.abstractmethod
    async def put_channel_settings(self, settings: ChannelSettings) -> None:
        """Store a channel's settings."""

    async def channel_settings(self, *, channel: str) -> ChannelSettings:
        """Return a channel's settings, or the defaults when none are stored."""
        stored = await self.get_channel_settings(channel=channel)
        return stored if stored is not None else ChannelSettings(channel=channel)

    @abc.abstractmethod
    async def set_opt_out(self, *, user: str, opted_out: bool) -> None:
        """Record whether a user opted out of flagging and storage."""

    async def opted_out_among(self, users: Collection[str]) -> set[str]:
        """Return the users among ``users`` who opted out (empty when none did).

        Derived: one :meth:`is_opted_out` each; a backend may answer all in one query.
        """
        return {user for user in users if await self.is_opted_out(user=user)}

    @abc.abstractmethod
    async def is_opted_out(self, *, user: str) -> bool:
        """Return whether the user opted out (False when never recorded)."""

    @abc.abstractmethod
    async def add_audit(self, entry: AuditEntry) -> None:
        """Append an entry to the audit log."""

    @abc.abstractmethod
    async def list_audit(self, *, limit: int = 50) -> list[AuditEntry]:
        """Return the most recent audit entries, newest first."""

    # -- privacy: forget-me, retention, manifests ---------------------------------------------

    @abc.abstractmethod
    async def forget_user(self, *, user: str) -> Erased:
        """Delete every record of the user's text and feedback; return what went.

        Deletes the interactions the user authored (``Interaction.author``), the feedback and
        corrections on them, and the feedback and corrections the user gave. Interactions the
        user only caused (``Interaction.user``, the actor) but did not author are kept with the
        actor cleared to ``""``. The opt-out record and the admin audit log are kept. An empty
        ``user`` forgets nothing.
        """

    @abc.abstractmethod
    async def purge_before(self, cutoff: datetime) -> Erased:
        """Delete interactions, feedback and corrections created before ``cutoff``.

        Feedback and corrections on a deleted interaction go with it. This is retention's exact
        purge (``tick``); Firestore's TTL on ``expires_at`` is its backstop.
        """

    @abc.abstractmethod
    async def put_manifest(self, manifest: Manifest) -> None:
        """Insert or replace a manifest (by id)."""

    @abc.abstractmethod
    async def get_manifest(self, manifest_id: str) -> Manifest | None:
        """Return one manifest, or None."""

    @abc.abstractmethod
    async def list_manifests(self) -> list[Manifest]:
        """Return every manifest, newest first (there is one per dataset and model version)."""

    @abc.abstractmethod
    async def delete_manifest(self, manifest_id: str) -> None:
        """Delete a manifest; deleting a missing one is a no-op."""

    # -- derived -------------------------------------------------------------------------------

    async def count_feedback(
        self, *, since: datetime | None = None, kind: Kind | None = None
    ) -> int:
        """Return how many unretracted feedback records changed after ``since``.

        With ``kind``, count only feedback on interactions of that kind. Implementations count
        on the server (an aggregation query) instead of reading every record, as this does.
        """
        kinds: dict[str, Kind | None] = {}
        count = 0
        async for item in self.iter_feedback(since=since):
            if kind is not None:
                if item.interaction_id not in kinds:
                    found = await self.get_interaction(item.interaction_id)
                    kinds[item.interaction_id] = None if found is None else found.kind
                if kinds[item.interaction_id] != kind:
                    continue
            count += 1
        return count

    async def active_version(self, *, task: Task) -> str | None:
        """Return the version id of the active model of ``task``, or None; cheap enough to poll."""
        model = await self.active_model(task=task)
        return None if model is None else model.version
