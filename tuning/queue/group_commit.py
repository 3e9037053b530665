"""Group commit: writes that arrive while one transaction commits go together in the next one.

A transaction costs the SQLite queue far more than a row does (``BEGIN IMMEDIATE``, the WAL
append, the commit), and a burst of acks or a leased batch finishing asks for many at once.
Each caller still returns only after the commit that holds its row, and learns its own row's
outcome, or the commit's failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from functools import partial
from typing import Any, Generic, TypeVar

R = TypeVar("R")
T = TypeVar("T")

# Writes a batch of requests in one transaction and returns one outcome per request, in order.
BatchWrite = Callable[[Sequence[R]], Coroutine[Any, Any, Sequence[T]]]


class GroupCommit(Generic[R, T]):
    """Run concurrent calls of one write as batches: one transaction at a time, each as big as
    what waited for it.

    >>> async def write(rows):
    ...     return [row * 2 for row in rows]
    >>> async def main():
    ...     commit = GroupCommit(write)
    ...     return await asyncio.gather(*(commit(n) for n in range(3)))
    >>> asyncio.run(main())
    [0, 2, 4]
    """

    def __init__(self, write: BatchWrite[R, T]) -> None:
        self._write = write
        self._waiting: list[tuple[R, asyncio.Future[T]]] = []
        self._committing = asyncio.Lock()
        self._commits: set[asyncio.Task[Sequence[T]]] = set()

    async def __call__(self, request: R) -> T:
        """Return ``request``'s outcome once the transaction holding it has committed."""
        outcome: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append((request, outcome))
        async with self._committing:  # one commit at a time; the next takes all who waited
            if not outcome.done():
                batch, self._waiting = self._waiting, []
                # A task of its own, settled by a callback, so that a call cancelled while it
                # leads the commit still answers the others in its batch.
                requests = [request for request, _ in batch]
                commit = asyncio.create_task(self._write(requests))
                self._commits.add(commit)
                commit.add_done_callback(self._commits.discard)
                commit.add_done_callback(partial(_settle, [future for _, future in batch]))
                await asyncio.wait([commit])
        return await outcome


def _settle(outcomes: list[asyncio.Future[T]], done: asyncio.Future[Sequence[T]]) -> None:
    error = None if done.cancelled() else done.exception()
    for index, outcome in enumerate(outcomes):
        if outcome.done():  # its caller gave up waiting (the row is committed all the same)
            continue
        if done.cancelled():
            outcome.cancel()
        elif error is not None:
            outcome.set_exception(error)
        else:
            outcome.set_result(done.result()[index])
