"""The production store on Firestore (native mode), through the async client.

Collections (each name may carry a prefix, e.g. per test or per deployment) and document ids:

==================  ===========================================  ===================================
collection          document id                                  notes
==================  ===========================================  ===================================
interactions        interaction id                               queried by (channel, ts),
                                                                 (channel, reply_ts), user, kind
feedback            sha256(interaction_id NUL user NUL reaction)  created with create(): idempotent
claims              sha256(key)                                  ``expires_at`` is the TTL field
models              ``{task}:{version}``                         state candidate|active|retired
active_models       task                                         pointer every promotion reads and
                                                                 writes, so promotions serialise
jobs                job id                                       whole JobRecord
channels            channel id                                   threshold, mode, reaction
optouts             user id                                      opted_out
audit               automatic                                    ordered by ``at``
==================  ===========================================  ===================================

An id that is not a valid document id (contains "/", too long, reserved) is replaced by
``sha256-<hex>`` of itself. Atomicity: ``create()`` for new interactions, feedback and claims;
transactions to take over an expired claim, reinstate retracted feedback, and promote a model.
Composite indexes needed in production: interactions (kind ASC, created_at ASC) and
jobs (task ASC, created_at DESC); everything else uses single-field indexes.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlparse

from google.api_core import exceptions as api_errors
from google.cloud.firestore import (
    AsyncClient,
    AsyncCollectionReference,
    AsyncDocumentReference,
    AsyncQuery,
    AsyncTransaction,
    DocumentSnapshot,
    FieldFilter,
    Query,
    async_transactional,
)

from tuning.errors import ConfigError, ConflictError, NotFoundError, StoreError
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
from tuning.store.firestore_docs import (
    api_errors_as_store_errors,
    claim_id,
    doc_id,
    feedback_id,
    translated,
)
from tuning.store.firestore_docs import decode_time as dec
from tuning.store.firestore_docs import encode_time as enc

T = TypeVar("T")
# Transactions retry on contention; 100 callers racing on one document need more than the default 5.
MAX_ATTEMPTS = 50
WRITE_BATCH = 400  # Firestore allows 500 writes per batch


class FirestoreStore(Store):
    """A :class:`Store` on Firestore; closing it closes the client."""

    def __init__(self, client: AsyncClient, *, prefix: str = "", page_size: int = 500) -> None:
        self.client = client
        self.prefix = prefix
        self.page_size = page_size
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    @classmethod
    def from_url(cls, url: str) -> FirestoreStore:
        """Build a store from ``firestore://PROJECT[/DATABASE]`` (honours FIRESTORE_EMULATOR_HOST).

        With the emulator the client uses anonymous credentials; otherwise Application Default
        Credentials.
        """
        parsed = urlparse(url)
        if parsed.scheme != "firestore" or not parsed.netloc:
            raise ConfigError("STORE_URL", f"{url!r} is not firestore://PROJECT[/DATABASE]")
        database = parsed.path.strip("/") or None
        try:
            client = AsyncClient(project=parsed.netloc, database=database)
        except Exception as exc:  # google.auth raises several unrelated types here
            raise StoreError(f"STORE_URL: cannot connect to {url} ({exc})") from exc
        return cls(client)

    async def _transact(self, lock_key: str, body: Callable[[AsyncTransaction], Awaitable[T]]) -> T:
        """Run ``body`` in a transaction, one at a time per ``lock_key`` within this process.

        The transaction alone is what makes it atomic across processes. The local lock is there
        because Firestore's pessimistic locking makes transactions that read and write the same
        document wait on each other until a lock timeout (seconds on the emulator), so letting
        this process race against itself would only add retries.
        """
        lock = self._locks.setdefault(lock_key, asyncio.Lock())
        async with lock:
            try:
                return await async_transactional(body)(
                    self.client.transaction(max_attempts=MAX_ATTEMPTS)
                )
            except ValueError as exc:  # the SDK's "Failed to commit transaction in N attempts"
                raise StoreError(f"firestore store: {exc}") from exc

    def _col(self, name: str) -> AsyncCollectionReference:
        return self.client.collection(self.prefix + name)

    def _doc(self, collection: str, raw_id: str) -> AsyncDocumentReference:
        return self._col(collection).document(doc_id(raw_id))

    async def close(self) -> None:
        """Close the client's channel."""
        api = getattr(self.client, "_firestore_api_internal", None)
        if api is not None:  # the SDK has no public close() for the async client
            await api.transport.close()

    @translated
    async def ping(self) -> bool:
        """Return True when Firestore answers a read of one document."""
        try:
            await self._doc("meta", "ping").get(timeout=10)
        except api_errors.GoogleAPIError:
            return False
        return True

    async def _pages(self, query: AsyncQuery | AsyncCollectionReference) -> AsyncIterator[Any]:
        """Yield every snapshot of ``query`` (which must be ordered) page by page."""
        last: DocumentSnapshot | None = None
        while True:
            page = query.limit(self.page_size)
            if last is not None:
                page = page.start_after(last)
            with api_errors_as_store_errors():
                snapshots = await page.get()
            for snapshot in snapshots:
                yield snapshot
            if len(snapshots) < self.page_size:
                return
            last = snapshots[-1]

    # -- interactions --------------------------------------------------------------------------

    @translated
    async def add_interaction(self, interaction: Interaction) -> None:
        """Store a new interaction; raise ConflictError if its id exists."""
        try:
            await self._doc("interactions", interaction.id).create(
                codec.interaction_to_dict(interaction, enc)
            )
        except api_errors.AlreadyExists as exc:
            raise ConflictError(f"interaction {interaction.id!r} already exists") from exc

    @translated
    async def update_interaction(self, interaction: Interaction) -> None:
        """Replace a stored interaction (same id); raise NotFoundError if it is missing."""
        ref = self._doc("interactions", interaction.id)
        try:
            # update() fails on a missing document; every field is written, so it replaces.
            await ref.update(codec.interaction_to_dict(interaction, enc))
        except api_errors.NotFound as exc:
            raise NotFoundError(f"interaction {interaction.id!r} does not exist") from exc

    @translated
    async def get_interaction(self, interaction_id: str) -> Interaction | None:
        """Return the interaction with this id, or None."""
        snapshot = await self._doc("interactions", interaction_id).get()
        if not snapshot.exists:
            return None
        return codec.interaction_from_dict(snapshot.to_dict() or {}, dec)

    @translated
    async def find_interaction(self, *, channel: str, ts: str) -> Interaction | None:
        """Return the interaction whose ``ts`` or ``reply_ts`` is this message, or None."""
        for field in ("ts", "reply_ts"):
            query = (
                self._col("interactions")
                .where(filter=FieldFilter("channel", "==", channel))
                .where(filter=FieldFilter(field, "==", ts))
                .limit(1)
            )
            for snapshot in await query.get():
                return codec.interaction_from_dict(snapshot.to_dict() or {}, dec)
        return None

    async def iter_interactions(
        self, *, kind: Kind | None = None, since: datetime | None = None
    ) -> AsyncIterator[Interaction]:
        """Yield interactions oldest first, optionally of one kind or created after ``since``."""
        query: Any = self._col("interactions")
        if kind is not None:
            query = query.where(filter=FieldFilter("kind", "==", kind))
        if since is not None:
            query = query.where(filter=FieldFilter("created_at", ">", enc(since)))
        async for snapshot in self._pages(query.order_by("created_at")):
            yield codec.interaction_from_dict(snapshot.to_dict() or {}, dec)

    # -- feedback ------------------------------------------------------------------------------

    @translated
    async def add_feedback(
        self, *, interaction_id: str, user: str, reaction: str, rating: int
    ) -> Feedback:
        """Record feedback once per (interaction, user, reaction) and return the stored record.

        Adding it again is a no-op; adding it after a retraction reinstates it (with the new
        rating and ``updated_at``; ``retracted_at`` keeps the last retraction for the audit trail).
        """
        ref = self._col("feedback").document(feedback_id(interaction_id, user, reaction))
        now = utcnow()
        fresh = Feedback(interaction_id, user, reaction, rating, created_at=now, updated_at=now)
        try:
            await ref.create(codec.feedback_to_dict(fresh, enc))
            return fresh
        except api_errors.AlreadyExists:
            pass
        # Given before: a plain read returns it unless it was retracted and needs reinstating.
        snapshot = await ref.get()
        if snapshot.exists:
            stored = codec.feedback_from_dict(snapshot.to_dict() or {}, dec)
            if not stored.retracted:
                return stored

        async def reinstate(transaction: AsyncTransaction) -> Feedback:
            snapshot = await ref.get(transaction=transaction)
            if not snapshot.exists:  # forgotten in between: give it anew
                transaction.create(ref, codec.feedback_to_dict(fresh, enc))
                return fresh
            stored = codec.feedback_from_dict(snapshot.to_dict() or {}, dec)
            if not stored.retracted:
                return stored
            now = utcnow()
            transaction.update(ref, {"retracted": False, "rating": rating, "updated_at": now})
            return replace(stored, retracted=False, rating=rating, updated_at=now)

        return await self._transact(ref.path, reinstate)

    @translated
    async def retract_feedback(
        self, *, interaction_id: str, user: str, reaction: str
    ) -> Feedback | None:
        """Mark the feedback retracted (kept for audit) and return it, or None if never given."""
        ref = self._col("feedback").document(feedback_id(interaction_id, user, reaction))

        async def retract(transaction: AsyncTransaction) -> Feedback | None:
            snapshot = await ref.get(transaction=transaction)
            if not snapshot.exists:
                return None
            stored = codec.feedback_from_dict(snapshot.to_dict() or {}, dec)
            if stored.retracted:
                return stored
            now = utcnow()
            transaction.update(ref, {"retracted": True, "retracted_at": now, "updated_at": now})
            return replace(stored, retracted=True, retracted_at=now, updated_at=now)

        return await self._transact(ref.path, retract)

    async def iter_feedback(
        self,
        *,
        interaction_id: str | None = None,
        since: datetime | None = None,
        include_retracted: bool = False,
    ) -> AsyncIterator[Feedback]:
        """Yield feedback oldest first, filtered by interaction and by ``updated_at > since``."""
        if interaction_id is not None:
            # One interaction has little feedback: filter and sort here, no composite index.
            query = self._col("feedback").where(
                filter=FieldFilter("interaction_id", "==", interaction_id)
            )
            with api_errors_as_store_errors():
                snapshots = await query.get()
            items = sorted(
                (codec.feedback_from_dict(s.to_dict() or {}, dec) for s in snapshots),
                key=lambda f: f.updated_at,
            )
            for item in items:
                if (since is None or item.updated_at > since) and (
                    include_retracted or not item.retracted
                ):
                    yield item
            return
        query_all: Any = self._col("feedback")
        if since is not None:
            query_all = query_all.where(filter=FieldFilter("updated_at", ">", enc(since)))
        async for snapshot in self._pages(query_all.order_by("updated_at")):
            item = codec.feedback_from_dict(snapshot.to_dict() or {}, dec)
            if include_retracted or not item.retracted:
                yield item

    # -- claims --------------------------------------------------------------------------------

    @translated
    async def claim(self, key: str, *, ttl: timedelta, holder: str = "") -> bool:
        """Atomically claim ``key`` for ``ttl``; return True for exactly one concurrent caller.

        A live claim is never re-granted, not even to its own holder. Expiry is judged by this
        process's clock; ``expires_at`` is also the field of the collection's TTL policy.
        """
        ref = self._col("claims").document(claim_id(key))
        try:
            await ref.create({"key": key, "holder": holder, "expires_at": utcnow() + ttl})
            return True
        except api_errors.AlreadyExists:
            pass
        # Held, or expired and not yet purged. A plain read settles the common case (held)
        # without taking locks; only an expired claim needs a transaction to take it over.
        if not self._expired(await ref.get(), key):
            return False

        async def take_over(transaction: AsyncTransaction) -> bool:
            if not self._expired(await ref.get(transaction=transaction), key):
                return False
            transaction.set(ref, {"key": key, "holder": holder, "expires_at": utcnow() + ttl})
            return True

        return await self._transact(ref.path, take_over)

    @staticmethod
    def _expired(snapshot: Any, key: str) -> bool:
        """Return whether a claim snapshot is free to take: missing or past its expiry."""
        if not snapshot.exists:
            return True
        with codec.decoding("claim", {"key": key}, "key"):
            return dec(snapshot.get("expires_at")) <= utcnow()

    @translated
    async def release(self, key: str, *, holder: str = "") -> None:
        """Drop a claim held by ``holder``; a claim held by someone else is left alone."""
        ref = self._col("claims").document(claim_id(key))
        snapshot = await ref.get()
        if snapshot.exists and snapshot.get("holder") == holder:
            await self._delete_unchanged(snapshot)

    async def _delete_unchanged(self, snapshot: Any) -> bool:
        """Delete the document unless it changed since ``snapshot`` was read."""
        option = self.client.write_option(last_update_time=snapshot.update_time)
        try:
            await snapshot.reference.delete(option=option)
        except (api_errors.FailedPrecondition, api_errors.NotFound):
            return False  # re-claimed (or purged) by someone else meanwhile
        return True

    @translated
    async def purge_expired(self, *, now: datetime | None = None) -> int:
        """Delete expired claims and return how many were deleted."""
        cutoff = enc(now or utcnow())
        query = self._col("claims").where(filter=FieldFilter("expires_at", "<=", cutoff))
        deleted = 0
        async for snapshot in self._pages(query.order_by("expires_at")):
            deleted += await self._delete_unchanged(snapshot)
        return deleted

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
            now = utcnow()
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
            }
        )

    @translated
    async def set_opt_out(self, *, user: str, opted_out: bool) -> None:
        """Record whether a user opted out of flagging and storage."""
        await self._doc("optouts", user).set(
            {"user": user, "opted_out": opted_out, "updated_at": utcnow()}
        )

    @translated
    async def is_opted_out(self, *, user: str) -> bool:
        """Return whether the user opted out (False when never recorded)."""
        snapshot = await self._doc("optouts", user).get()
        return bool(snapshot.exists and snapshot.get("opted_out"))

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

    @translated
    async def forget_user(self, *, user: str) -> int:
        """Delete the user's interactions (with their feedback) and feedback; return the count.

        Works in batches, so it is not one atomic step; running it again finishes the job. The
        opt-out record and the admin audit log are kept. An empty ``user`` forgets nothing.
        """
        if not user:
            return 0
        deleted = 0
        theirs = self._col("interactions").where(filter=FieldFilter("user", "==", user))
        while snapshots := await theirs.limit(self.page_size).get():
            ids = [s.get("id") for s in snapshots]
            on_theirs: list[Any] = []
            for start in range(0, len(ids), 30):  # "in" takes at most 30 values
                chunk = ids[start : start + 30]
                query = self._col("feedback").where(
                    filter=FieldFilter("interaction_id", "in", chunk)
                )
                on_theirs.extend(await query.get())
            # Feedback first: a crash in between must not leave feedback on a deleted message.
            deleted += await self._delete_all(s.reference for s in on_theirs)
            deleted += await self._delete_all(s.reference for s in snapshots)
        by_them = self._col("feedback").where(filter=FieldFilter("user", "==", user))
        while snapshots := await by_them.limit(self.page_size).get():
            deleted += await self._delete_all(s.reference for s in snapshots)
        return deleted

    async def _delete_all(self, refs: Iterable[AsyncDocumentReference]) -> int:
        pending = list(refs)
        for start in range(0, len(pending), WRITE_BATCH):
            batch = self.client.batch()
            for ref in pending[start : start + WRITE_BATCH]:
                batch.delete(ref)
            await batch.commit()
        return len(pending)
