"""Work that runs after Slack has been acknowledged, tracked so shutdown can wait for it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable
from typing import Any

log = logging.getLogger(__name__)


async def cancel_late(tasks: Iterable[asyncio.Task[Any]], *, within: float, why: str) -> int:
    """Wait up to ``within`` s for ``tasks``, cancel the ones still running; return how many.

    The cancelled get a second to unwind, and ``why`` is logged with their count.
    """
    running = set(tasks)
    if not running:
        return 0
    _, late = await asyncio.wait(running, timeout=within)
    for task in late:
        task.cancel()
    if late:
        await asyncio.wait(late, timeout=1.0)
        log.warning(why, extra={"count": len(late)})
    return len(late)


class BackgroundTasks:
    """A set of running tasks: spawn work after the ack, drain it (bounded) before exit."""

    def __init__(self, *, event_slots: int = 2) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._slots = asyncio.Semaphore(event_slots)

    def spawn(
        self, work: Coroutine[Any, Any, None], *, name: str, limited: bool = False
    ) -> asyncio.Task[None] | None:
        """Start ``work`` now and keep a reference until it ends; refuse once draining began.

        ``limited`` work (one Slack event's model calls, store writes and replies) waits for one
        of a few slots. Local model calls run in threads that hold the GIL: with a burst of
        events all running at once, the event loop waits for the GIL on every socket call and
        acks slow down (bench/bench_events.py measured p99 > 150 ms). With two slots both cores
        stay busy, the loop stays responsive, and the rest of a burst queues cheaply.
        """
        if self._closed:
            work.close()
            log.warning("background work refused during shutdown", extra={"task": name})
            return None
        guarded = self._guard(work, name, self._slots if limited else None)
        task = asyncio.get_running_loop().create_task(guarded, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @property
    def pending(self) -> int:
        """Return how many tasks are still running."""
        return len(self._tasks)

    async def drain(self, *, within: float) -> int:
        """Refuse new work, wait up to ``within`` s for running work, cancel the rest.

        Return how many tasks had to be cancelled.
        """
        self._closed = True
        return await cancel_late(self._tasks, within=within, why="cancelled unfinished work")

    async def join(self) -> None:
        """Wait until no task is running (tests and benchmarks use this)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    @staticmethod
    async def _guard(
        work: Coroutine[Any, Any, None], name: str, slots: asyncio.Semaphore | None
    ) -> None:
        # A listener must never crash the process: log everything that escapes the work itself.
        try:
            if slots is None:
                await work
            else:
                async with slots:
                    await work
        except asyncio.CancelledError:
            raise
        except Exception:  # a task must never crash the process: log what escapes it
            log.exception("background work failed", extra={"task": name})
