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

from tuning.records import Clock, frozen_mapping

# Deliveries of one item before it goes to the dead letters.
MAX_ATTEMPTS = 5


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

    async def open(self) -> None:  # noqa: B027 - optional hook with a no-op default
        """Prepare the queue for use (create tables, topics, subscriptions); idempotent."""

    async def close(self) -> None:  # noqa: B027 - optional hook with a no-op default
        """Release connections; leased items stay leased until their leases expire."""

    @abc.abstractmethod
    async def put(self, item: WorkItem) -> bool:
        """Store ``item`` durably before returning; return False if its key was already put."""

    @abc.abstractmethod
    async def lease(
        self, *, kinds: Sequence[str] | None = None, limit: int = 1, ttl: timedelta, holder: str
    ) -> list[Lease]:
        """Lease up to ``limit`` ready items (of ``kinds``, or any), oldest first; may be empty."""

    @abc.abstractmethod
    async def done(self, lease: Lease) -> None:
        """Finish the leased item for good; a lease that expired and was re-leased is ignored."""

    @abc.abstractmethod
    async def retry(self, lease: Lease, *, delay: timedelta) -> None:
        """Hand the item back to be leased again after ``delay`` (dead letters after the last)."""

    @abc.abstractmethod
    async def depth(self) -> Mapping[str, int]:
        """Return how many items of each kind are waiting or leased (not done, not dead)."""

    @abc.abstractmethod
    async def probe(self) -> bool:
        """Return True when the queue can take a write right now (a cheap write, not a read)."""
