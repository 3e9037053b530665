"""The durable work queue: what the bot keeps before it acknowledges Slack, and works off later.

Slack never redelivers what it got a 2xx for, so an event is acknowledged only after its work
item is durably enqueued (:meth:`WorkQueue.put`). Workers then *lease* items: a lease hides the
item from other workers until it expires, so a crash mid-work leaves the item to the next worker
or the restarted process. The worker marks the item :meth:`~WorkQueue.done` after its effects
(which are idempotent), or hands it back with :meth:`~WorkQueue.retry` and a delay. An item that
keeps failing ends in the dead letters after ``max_attempts`` deliveries.

Implementations: SQLite (embedded, beside the store) and Google Cloud Pub/Sub (production).
One contract suite (``tests/contract/test_queue.py``) runs against both, Pub/Sub on its
emulator.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tuning.errors import QueueError
from tuning.records import Clock, frozen_mapping

# Deliveries of one item before it goes to the dead letters (Pub/Sub accepts 5 to 100).
MAX_ATTEMPTS = 5
# The longest lease and the longest hold-back: Pub/Sub's ack deadline is at most 600 s.
MAX_LEASE = timedelta(minutes=10)
# How long a key stays known, so that a redelivered Slack event is not put (and done) twice;
# Slack's own retries end within minutes.
DEDUPE_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class WorkItem:
    """One unit of work: ``key`` makes it idempotent (one item per key), ``kind`` routes it.

    ``payload`` is JSON-serialisable and holds what the worker needs (never a token). An item
    is not leased before ``not_before``.
    """

    key: str
    kind: str
    payload: Mapping[str, Any] = field(default_factory=frozen_mapping)
    not_before: datetime | None = None


@dataclass(frozen=True)
class Lease:
    """A leased item: ``token`` identifies this delivery, ``attempt`` counts from 1."""

    item: WorkItem
    token: str
    attempt: int
    expires_at: datetime


class WorkQueue(abc.ABC):
    """Durable, leased work; every method raises :class:`~tuning.errors.QueueError` if broken."""

    clock: Clock
    # True when items arrive at an HTTP endpoint (Pub/Sub push, see tuning.queue.push) rather
    # than by lease(): the response acks them, so lease, done and retry are not for such a queue.
    push: bool = False

    async def open(self) -> None:  # noqa: B027 - optional hook with a no-op default
        """Prepare the queue for use (create tables, topics, subscriptions); idempotent."""

    async def close(self) -> None:  # noqa: B027 - optional hook with a no-op default
        """Release connections; leased items stay leased until their leases expire."""

    @abc.abstractmethod
    async def put(self, item: WorkItem) -> bool:
        """Store ``item`` durably before returning; return False if its key was already put.

        A key stays known for :data:`DEDUPE_WINDOW`. Raise QueueError when the item cannot be
        stored, so that the caller answers Slack with a non-2xx and Slack redelivers.
        """

    @abc.abstractmethod
    async def lease(
        self, *, kinds: Sequence[str] | None = None, limit: int = 1, ttl: timedelta, holder: str
    ) -> list[Lease]:
        """Lease up to ``limit`` ready items (of ``kinds``, or any), oldest first; may be empty.

        ``ttl`` is at most :data:`MAX_LEASE`. An item whose last attempt's lease ran out goes to
        the dead letters instead of being leased again.
        """

    @abc.abstractmethod
    async def done(self, lease: Lease) -> None:
        """Finish the leased item for good; a lease that expired and was re-leased is ignored."""

    @abc.abstractmethod
    async def retry(self, lease: Lease, *, delay: timedelta) -> None:
        """Hand the item back to be leased again after ``delay`` (dead letters after the last).

        A lease that expired and was re-leased is ignored. Pub/Sub holds an item back at most
        :data:`MAX_LEASE`, so a longer delay is cut to that.
        """

    @abc.abstractmethod
    async def depth(self) -> Mapping[str, int] | None:
        """Return how many items of each kind are waiting or leased (not done, not dead).

        None means the queue cannot count (Pub/Sub reports its backlog in Cloud Monitoring).
        """

    async def erase_user(self, *, user: str) -> int:
        """Blank the payloads of waiting and dead items that ``user`` wrote or clicked; count them.

        Forget-me reaches the queue too: a message put before it would otherwise be handled,
        and stored, after it, and a dead letter would keep its text for ``dead_retention``.
        A queue that cannot rewrite what it holds answers 0 (Pub/Sub: its dead letters expire
        with the subscription's retention).
        """
        return 0

    @abc.abstractmethod
    async def dead_letters(self, *, limit: int = 100) -> list[WorkItem]:
        """Return up to ``limit`` dead items, oldest first, leaving them in place."""

    @abc.abstractmethod
    async def probe(self) -> bool:
        """Return True when the queue can take a write right now (a cheap write, not a read)."""


def check_ttl(ttl: timedelta) -> None:
    """Raise QueueError unless ``ttl`` is a lease length every queue can honour."""
    if not timedelta(0) < ttl <= MAX_LEASE:
        raise QueueError(f"a lease lasts more than 0 s and at most {MAX_LEASE}, not {ttl}")
