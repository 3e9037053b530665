"""The production store on Firestore (native mode), through the async client.

Collections (each name may carry a prefix, e.g. per test or per deployment) and document ids:

=============  ============================================  =================================
collection     document id                                   notes
=============  ============================================  =================================
interactions   interaction id                                queried by (channel, ts),
                                                             (channel, reply_ts), user, author,
                                                             kind, parent_id
feedback       sha256(interaction_id NUL user NUL reaction)  created with create(): idempotent
feedback_order the feedback's document id                    its last Slack event (ids only)
corrections    sha256(interaction_id NUL user)               set(): a later one replaces it
manifests      manifest id                                   record ids: a zlib blob, split
manifest_parts ``{manifest id}#{n}``                         over parts past ~900 KB
claims         sha256(key)                                   ``expires_at``: the TTL field
models         ``{task}:{version}``                          candidate | active | retired
active_models  task                                          read and written by every
                                                             promotion, so they serialise
jobs           job id                                        the whole JobRecord
channels       channel id                                    threshold, mode, reaction
optouts        user id                                       opted_out
audit          automatic                                     ordered by ``at``
meta           ``ping``                                      read (never written) by ping()
=============  ============================================  =================================

An id that is not a valid document id (contains "/", too long, reserved) is replaced by
``sha256-<hex>`` of itself. Atomicity: ``create()`` for new interactions, feedback and claims;
transactions to take over an expired claim, reinstate retracted feedback, and promote a model.
With a ``retention``, interactions, feedback and corrections carry ``expires_at`` (created_at +
retention) for their TTL policies, a backstop to ``purge_before``.
The composite indexes production needs, the TTL policies and the unindexed fields are listed in
:mod:`tuning.store.firestore.setup` (rendered as ``firestore.indexes.json``; ``python -m tuning
firestore-setup`` prints the gcloud commands for a database and prefix); ``purge_expired()``
does the TTL policy's work on demand.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlparse

from google.api_core import exceptions as api_errors
from google.cloud.firestore import (
    AsyncClient,
    AsyncDocumentReference,
    AsyncTransaction,
    FieldFilter,
)

from tuning.errors import ConfigError, ConflictError, NotFoundError, StoreError
from tuning.records import Clock, Feedback, Interaction, Kind, utcnow
from tuning.store import codec
from tuning.store.base import Store
from tuning.store.firestore.cheap_reads import FirestoreCheapReads
from tuning.store.firestore.corrections import FirestoreCorrections
from tuning.store.firestore.docs import (
    api_errors_as_store_errors,
    claim_id,
    feedback_id,
    translated,
)
from tuning.store.firestore.docs import decode_time as dec
from tuning.store.firestore.docs import encode_time as enc
from tuning.store.firestore.manifests import FirestoreManifests
from tuning.store.firestore.privacy import FirestorePrivacy
from tuning.store.firestore.registry import FirestoreRegistry

__all__ = ["FirestoreStore"]


class FirestoreStore(
    FirestorePrivacy,
    FirestoreManifests,
    FirestoreCorrections,
    FirestoreCheapReads,
    FirestoreRegistry,
    Store,
):
    """A :class:`Store` on Firestore; closing it closes the client."""

    @classmethod
    def from_url(
        cls, url: str, *, clock: Clock = utcnow, retention: timedelta | None = None
    ) -> FirestoreStore:
        """Build a store from ``firestore://PROJECT[/DATABASE]`` (honours FIRESTORE_EMULATOR_HOST).

        With the emulator the client uses anonymous credentials; otherwise Application Default
        Credentials. With a ``retention``, records carry ``expires_at`` for the TTL policies.
        """
        parsed = urlparse(url)
        if parsed.scheme != "firestore" or not parsed.netloc:
            raise ConfigError("STORE_URL", f"{url!r} is not firestore://PROJECT[/DATABASE]")
        database = parsed.path.strip("/") or None
        try:
            client = AsyncClient(project=parsed.netloc, database=database)
        except Exception as exc:  # google.auth raises several unrelated types here
            raise StoreError(f"STORE_URL: cannot connect to {url} ({exc})") from exc
        return cls(client, clock=clock, retention=retention)

    # -- interactions --------------------------------------------------------------------------

    @translated
    async def add_interaction(self, interaction: Interaction) -> None:
        """Store a new interaction; raise ConflictError if its id exists."""
        try:
            await self._doc("interactions", interaction.id).create(self._interaction(interaction))
        except api_errors.AlreadyExists as exc:
            raise ConflictError(f"interaction {interaction.id!r} already exists") from exc

    @translated
    async def update_interaction(self, interaction: Interaction) -> None:
        """Replace a stored interaction (same id); raise NotFoundError if it is missing."""
        ref = self._doc("interactions", interaction.id)
        try:
            # update() fails on a missing document; every field is written, so it replaces.
            await ref.update(self._interaction(interaction))
        except api_errors.NotFound as exc:
            raise NotFoundError(f"interaction {interaction.id!r} does not exist") from exc

    def _interaction(self, interaction: Interaction) -> dict[str, Any]:
        """Return the document of an interaction, with its ``expires_at`` when there is one."""
        return {
            **codec.interaction_to_dict(interaction, enc),
            **self._expiry(interaction.created_at),
        }

    @translated
    async def get_interaction(self, interaction_id: str) -> Interaction | None:
        """Return the interaction with this id, or None."""
        snapshot = await self._doc("interactions", interaction_id).get()
        if not snapshot.exists:
            return None
        return codec.interaction_from_dict(snapshot.to_dict() or {}, dec)

    @translated
    async def recorded_interactions(self, ids: Collection[str]) -> set[str]:
        """Return the ids among ``ids`` that name a stored interaction, read in batches."""
        return await self._existing("interactions", ids)

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

    @translated
    async def linked_interactions(self, *, parent_id: str) -> list[Interaction]:
        """Return the interactions whose ``parent_id`` is this id, oldest first (maybe none)."""
        # A prompt has a few retries: filter on one field and sort here, no composite index.
        query = self._col("interactions").where(filter=FieldFilter("parent_id", "==", parent_id))
        found = [codec.interaction_from_dict(s.to_dict() or {}, dec) for s in await query.get()]
        return sorted(found, key=lambda i: (i.created_at, i.id))

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
        self, *, interaction_id: str, user: str, reaction: str, rating: int, event_ts: str = ""
    ) -> Feedback:
        """Record feedback once per (interaction, user, reaction) and return the stored record.

        Adding it again is a no-op; adding it after a retraction reinstates it (with the new
        rating and ``updated_at``; ``retracted_at`` keeps the last retraction for the audit trail).
        With an ``event_ts``, an add no newer than the key's last add or retraction is ignored.
        """
        ref = self._col("feedback").document(feedback_id(interaction_id, user, reaction))
        now = self.clock()
        fresh = Feedback(interaction_id, user, reaction, rating, created_at=now, updated_at=now)
        # The interaction's kind rides along so count_feedback(kind=...) needs no join.
        kind = {"kind": await self._interaction_kind(interaction_id)}
        order = codec.event_order(event_ts)
        if order:
            return await self._add_ordered(ref, fresh, kind, order)
        return await self._add_unordered(ref, fresh, kind)

    async def _add_ordered(
        self, ref: AsyncDocumentReference, fresh: Feedback, kind: dict[str, Any], order: str
    ) -> Feedback:
        """Add ``fresh`` unless the key saw a newer event than ``order`` (one transaction)."""
        order_ref = self._col("feedback_order").document(ref.id)
        user, rating, now = fresh.user, fresh.rating, fresh.created_at

        async def ordered_add(transaction: AsyncTransaction) -> Feedback:
            stored, newer = await self._ordered(transaction, ref, order_ref, order)
            if not newer:
                gone = replace(fresh, retracted=True, retracted_at=now)
                return stored if stored is not None else gone
            transaction.set(order_ref, {"user": user, "event_order": order})
            if stored is None:
                transaction.create(ref, self._feedback(fresh, kind))
                return fresh
            if not stored.retracted:
                return stored
            update = {"retracted": False, "rating": rating, "updated_at": now, **kind}
            transaction.update(ref, update)
            return replace(stored, retracted=False, rating=rating, updated_at=now)

        return await self._transact(ref.path, ordered_add)

    async def _add_unordered(
        self, ref: AsyncDocumentReference, fresh: Feedback, kind: dict[str, Any]
    ) -> Feedback:
        """Add ``fresh`` once: create it, or reinstate it if it was retracted."""
        rating = fresh.rating
        try:
            await ref.create(self._feedback(fresh, kind))
        except api_errors.AlreadyExists:
            pass
        else:
            return fresh
        # Given before: a plain read returns it unless it was retracted and needs reinstating.
        snapshot = await ref.get()
        if snapshot.exists:
            stored = codec.feedback_from_dict(snapshot.to_dict() or {}, dec)
            if not stored.retracted:
                return stored

        async def reinstate(transaction: AsyncTransaction) -> Feedback:
            snapshot = await ref.get(transaction=transaction)
            if not snapshot.exists:  # forgotten in between: give it anew
                transaction.create(ref, self._feedback(fresh, kind))
                return fresh
            stored = codec.feedback_from_dict(snapshot.to_dict() or {}, dec)
            if not stored.retracted:
                return stored
            now = self.clock()
            transaction.update(
                ref, {"retracted": False, "rating": rating, "updated_at": now, **kind}
            )
            return replace(stored, retracted=False, rating=rating, updated_at=now)

        return await self._transact(ref.path, reinstate)

    def _feedback(self, fresh: Feedback, kind: dict[str, Any]) -> dict[str, Any]:
        """Return the document of new feedback: its fields, the kind, its ``expires_at``."""
        return {**codec.feedback_to_dict(fresh, enc), **kind, **self._expiry(fresh.created_at)}

    async def _interaction_kind(self, interaction_id: str) -> str | None:
        snapshot = await self._doc("interactions", interaction_id).get()
        kind = (snapshot.to_dict() or {}).get("kind")
        return kind if isinstance(kind, str) else None

    @translated
    async def retract_feedback(
        self, *, interaction_id: str, user: str, reaction: str, event_ts: str = ""
    ) -> Feedback | None:
        """Mark the feedback retracted (kept for audit) and return it, or None if never given.

        With an ``event_ts``, a retraction no newer than the key's last write is ignored.
        """
        ref = self._col("feedback").document(feedback_id(interaction_id, user, reaction))
        order = codec.event_order(event_ts)
        order_ref = self._col("feedback_order").document(ref.id)

        async def retract(transaction: AsyncTransaction) -> Feedback | None:
            if order:
                stored, newer = await self._ordered(transaction, ref, order_ref, order)
                if not newer:
                    return stored
                transaction.set(order_ref, {"user": user, "event_order": order})
            else:
                snapshot = await ref.get(transaction=transaction)
                stored = (
                    codec.feedback_from_dict(snapshot.to_dict() or {}, dec)
                    if snapshot.exists
                    else None
                )
            if stored is None or stored.retracted:
                return stored
            now = self.clock()
            transaction.update(ref, {"retracted": True, "retracted_at": now, "updated_at": now})
            return replace(stored, retracted=True, retracted_at=now, updated_at=now)

        return await self._transact(ref.path, retract)

    @staticmethod
    async def _ordered(
        transaction: AsyncTransaction, ref: Any, order_ref: Any, order: str
    ) -> tuple[Feedback | None, bool]:
        """Read the feedback and its last event in ``transaction``; say if ``order`` is newer."""
        last = await order_ref.get(transaction=transaction)
        snapshot = await ref.get(transaction=transaction)
        stored = (
            codec.feedback_from_dict(snapshot.to_dict() or {}, dec) if snapshot.exists else None
        )
        previous = (last.to_dict() or {}).get("event_order", "") if last.exists else ""
        return stored, order > str(previous)

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

        A live claim is never re-granted, not even to its own holder. Reads judge expiry by the
        store's clock: the TTL policy on ``expires_at`` deletes only eventually (within a day).
        """
        ref = self._col("claims").document(claim_id(key))
        try:
            await ref.create({"key": key, "holder": holder, "expires_at": self.clock() + ttl})
        except (api_errors.AlreadyExists, api_errors.Aborted):
            # Aborted: the create waited on another claimant's transaction, which holds the
            # document's lock while it takes the claim over, until the lock timed out. Nothing
            # was created; the read below (and, if need be, a transaction) settles who holds it.
            pass
        else:
            return True
        # Held, or expired and not yet purged. A plain read settles the common case (held)
        # without taking locks; only an expired claim needs a transaction to take it over.
        if not self._expired(await ref.get(), key):
            return False

        async def take_over(transaction: AsyncTransaction) -> bool:
            if not self._expired(await ref.get(transaction=transaction), key):
                return False
            transaction.set(ref, {"key": key, "holder": holder, "expires_at": self.clock() + ttl})
            return True

        return await self._transact(ref.path, take_over)

    def _expired(self, snapshot: Any, key: str) -> bool:
        """Return whether a claim snapshot is free to take: missing or past its expiry."""
        if not snapshot.exists:
            return True
        with codec.decoding("claim", {"key": key}, "key"):
            return dec(snapshot.get("expires_at")) <= self.clock()

    @translated
    async def release(self, key: str, *, holder: str = "") -> None:
        """Drop a claim held by ``holder``; a claim held by someone else is left alone."""
        ref = self._col("claims").document(claim_id(key))
        snapshot = await ref.get()
        if snapshot.exists and snapshot.get("holder") == holder:
            await self._delete_unchanged(snapshot)

    @translated
    async def purge_expired(self, *, now: datetime | None = None) -> int:
        """Delete expired claims and return how many were deleted."""
        cutoff = enc(now or self.clock())
        query = self._col("claims").where(filter=FieldFilter("expires_at", "<=", cutoff))
        deleted = 0
        async for snapshot in self._pages(query.order_by("expires_at")):
            deleted += await self._delete_unchanged(snapshot)
        return deleted
