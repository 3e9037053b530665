"""Lease work from the queue, do it, mark it done: bounded per kind, a crash leaves it to expire.

Each kind has its own loop and its own concurrency bound, so a burst of one kind (flags) never
takes the slots of another (mentions). Stopping cancels no lease into nothing: work still
running when the drain ends is abandoned, its lease expires, and the next process does it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from bot.background import cancel_late
from bot.services import Services
from bot.transports.slack_client import retry_after
from bot.work.kinds import FLAG, FLAG_LONG, FORGET, MENTION, MENTION_LONG, REACTION, TRY_AGAIN
from bot.work.routes import PREPARE, Handler, Prepare, run_item
from tuning.errors import QueueError
from tuning.queue.base import Lease, WorkQueue

log = logging.getLogger(__name__)

# Model calls hold the GIL in local threads: two at a time keep both cores busy and the event
# loop (and the acks) responsive. Reactions are store writes only.
# Flags are leased and classified in batches (one model call each), so their bound is a batch.
# Long texts get one slot (a batch of 4 for flags) beside the short ones' own.
DEFAULT_LIMITS: Mapping[str, int] = {
    MENTION: 2,
    FLAG: 32,
    REACTION: 4,
    TRY_AGAIN: 1,
    MENTION_LONG: 1,
    FLAG_LONG: 4,
    FORGET: 1,
}
# Longer than any one item takes (a slow model, Slack retries); a crash costs this much delay.
LEASE_TTL = timedelta(minutes=2)
# How long an idle loop waits for a put in this process before asking the queue again (work
# put by another replica arrives no later than this).
POLL_SECONDS = 0.25
QUEUE_DOWN_SECONDS = 1.0
# Acks first during a burst: while events arrive faster than BURST_RATE per second (Slack's
# Events API allows 30,000 an hour, about 8 a second, so only a redelivery burst or a flood
# comes near it), each kind leases at most once per INTAKE_PACE s. The work still moves, the
# acks keep the cores, and once the burst ends the work runs at full speed: a durable backlog
# is what the queue is for. bench/bench_events.py measures both sides.
BURST_RATE = 500.0
INTAKE_PACE = 0.25
# The put rate is averaged over about this many seconds (an exponential moving average).
RATE_WINDOW = 0.25


class Wakeups:
    """One event per kind, set when this process puts work of that kind; and the put rate."""

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, window: float = RATE_WINDOW
    ) -> None:
        self._events: dict[str, asyncio.Event] = {}
        self._clock, self._window = clock, window
        self._last_put = -math.inf
        self._rate = 0.0

    def event(self, kind: str) -> asyncio.Event:
        """Return the event of ``kind``."""
        return self._events.setdefault(kind, asyncio.Event())

    def set(self, kind: str) -> None:
        """Count a put of ``kind`` and wake that kind's loop."""
        now = self._clock()
        self._rate = self._decayed(now) + 1 / self._window
        self._last_put = now
        self.event(kind).set()

    def rate(self) -> float:
        """Return puts per second lately: a moving average over about ``window`` seconds.

        >>> clock = iter([0.0, 0.0])
        >>> wakeups = Wakeups(clock=lambda: next(clock), window=0.5)
        >>> wakeups.set("flag"); wakeups.rate()
        2.0
        """
        return self._decayed(self._clock())

    def _decayed(self, now: float) -> float:
        return self._rate * math.exp(-(now - self._last_put) / self._window)


def retry_delay(attempt: int) -> timedelta:
    """Return how long a failed item waits before its next delivery (1 s, 2 s, 4 s... 60 s)."""
    return timedelta(seconds=min(60, 2 ** max(0, attempt - 1)))


class Worker:
    """Lease and do the work of every kind in ``handlers``, at most ``limits[kind]`` at a time."""

    def __init__(
        self,
        services: Services,
        queue: WorkQueue,
        handlers: Mapping[str, Handler],
        *,
        wakeups: Wakeups,
        prepare: Mapping[str, Prepare] = PREPARE,
        limits: Mapping[str, int] = DEFAULT_LIMITS,
        ttl: timedelta = LEASE_TTL,
        poll_seconds: float = POLL_SECONDS,
        burst_rate: float = BURST_RATE,
        intake_pace: float = INTAKE_PACE,
    ) -> None:
        self._services, self._queue, self._handlers = services, queue, handlers
        self._wakeups, self._limits, self._prepare = wakeups, limits, prepare
        self._ttl, self._poll = ttl, poll_seconds
        self._burst_rate, self._pace = burst_rate, intake_pace
        self._loops: list[asyncio.Task[None]] = []
        self._running: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        """Start one leasing loop per kind."""
        loop = asyncio.get_running_loop()
        for kind in self._handlers:
            self._loops.append(loop.create_task(self._lease_loop(kind), name=f"work-{kind}"))

    @property
    def running(self) -> int:
        """Return how many items are being worked on now."""
        return len(self._running)

    async def stop(self, *, within: float) -> int:
        """Lease nothing more, give running items ``within`` s, abandon the rest to expire.

        Return how many items were abandoned (their leases expire; another process does them).
        """
        for task in self._loops:
            task.cancel()
        for task in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return await cancel_late(self._running, within=within, why="left unfinished work to leases")

    async def idle(self) -> None:
        """Wait until nothing is running here and nothing waits in the queue (tests, benches)."""
        # Polled: the depth also changes in other processes, so there is no event to wait on.
        while self._running or any(((await self._queue.depth()) or {}).values()):  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    async def _lease_loop(self, kind: str) -> None:
        limit = self._limits.get(kind, 1)
        mine: set[asyncio.Task[None]] = set()
        wake = self._wakeups.event(kind)
        while True:
            if len(mine) >= limit:
                await asyncio.wait(set(mine), return_when=asyncio.FIRST_COMPLETED)
                continue
            wake.clear()
            await self._yield_to_intake()
            try:
                leases = await self._queue.lease(
                    kinds=[kind],
                    limit=limit - len(mine),
                    ttl=self._ttl,
                    holder=self._services.instance,
                )
            except QueueError:
                log.warning("could not lease work", extra={"kind": kind}, exc_info=True)
                await asyncio.sleep(QUEUE_DOWN_SECONDS)
                continue
            prepared = await self._prepared(kind, leases)
            for lease in leases:
                work = self._do(lease, prepared.get(lease.item.key))
                task = asyncio.get_running_loop().create_task(work, name=kind)
                for group in (mine, self._running):
                    group.add(task)
                    task.add_done_callback(group.discard)
            if not leases:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), self._poll)

    async def _yield_to_intake(self) -> None:
        # During a burst, wait out the pace: looked at again every poll, so the wait ends when
        # the burst does (and a test's clock can end it).
        waited = 0.0
        while waited < self._pace and self._wakeups.rate() > self._burst_rate:
            step = min(self._pace - waited, self._poll)
            await asyncio.sleep(step)
            waited += step

    async def _prepared(self, kind: str, leases: list[Lease]) -> Mapping[str, Mapping[str, Any]]:
        prepare = self._prepare.get(kind)
        if prepare is None or not leases:
            return {}
        try:
            return await prepare(self._services, [lease.item for lease in leases])
        except Exception:  # each item then does its own part, and fails or not on its own
            log.warning("batch step failed", extra={"kind": kind}, exc_info=True)
            return {}

    async def _do(self, lease: Lease, prepared: Mapping[str, Any] | None = None) -> None:
        item = lease.item
        try:
            await run_item(
                self._services,
                item,
                self._handlers,
                attempt=lease.attempt,
                prepared=prepared,
            )
        except asyncio.CancelledError:
            raise  # stopping: the lease expires and the next process does the item
        except Exception as exc:  # any failure: the item is retried or dead-lettered, never lost
            wait = retry_after(exc)
            if wait is not None:
                # Rate limited: the item waits in the queue, not in a slot other work needs.
                log.info("rate limited; handing the item back", extra={"kind": item.kind})
                await self._settle(lease, delay=timedelta(seconds=wait))
                return
            log.exception("work failed", extra={"kind": item.kind, "attempt": lease.attempt})
            await self._settle(lease, delay=retry_delay(lease.attempt))
            return
        await self._settle(lease, delay=None)

    async def _settle(self, lease: Lease, *, delay: timedelta | None) -> None:
        # A queue that cannot record the outcome (an outage) is asked again until the lease
        # runs out, so that the item does not wait for its expiry once the queue is back.
        # After that the item is done again, and its effects are idempotent.
        warned = False
        while True:
            try:
                if delay is None:
                    await self._queue.done(lease)
                else:
                    await self._queue.retry(lease, delay=delay)
            except QueueError:
                if not warned:
                    log.warning("could not settle a work item", extra={"kind": lease.item.kind})
                    warned = True
                if self._queue.clock() + timedelta(seconds=QUEUE_DOWN_SECONDS) >= lease.expires_at:
                    return
                await asyncio.sleep(QUEUE_DOWN_SECONDS)
            else:
                return
