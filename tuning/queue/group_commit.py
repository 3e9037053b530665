"""Group commit: writes that arrive while one transaction commits go together in the next one.

A transaction costs the SQLite queue far more than a row does (``BEGIN IMMEDIATE``, the WAL
append, the commit), and a burst of acks or a leased batch finishing asks for many at once.
Each caller still returns only after the commit that holds its row, and learns its own row's
outcome, or the commit's failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
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
        # The one task that commits, batch after batch, while requests wait; None when idle.
        self._committer: asyncio.Task[None] | None = None

    async def __call__(self, request: R) -> T:
        """Return ``request``'s outcome once the transaction holding it has committed."""
        outcome: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append((request, outcome))
        if self._committer is None:
            # A task of its own, so that a caller cancelled while it waits leaves the commit
            # (and the others in its batch) alone; it starts on the loop's next turn, and
            # every request made until then joins its first batch.
            self._committer = asyncio.create_task(self._commit_while_waiting())
        return await outcome

    async def _commit_while_waiting(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    outcomes = await self._write([request for request, _ in batch])
                except asyncio.CancelledError:  # the loop is closing: nobody gets an answer
                    _settle([*batch, *self._waiting], cancelled=True)
                    self._waiting = []
                    raise
                except Exception as exc:  # noqa: BLE001 - each caller of the batch gets it, whatever it is
                    _settle(batch, error=exc)
                else:
                    _settle(batch, outcomes=outcomes)
        finally:
            self._committer = None


def _settle(
    batch: Sequence[tuple[Any, asyncio.Future[T]]],
    *,
    outcomes: Sequence[T] = (),
    error: Exception | None = None,
    cancelled: bool = False,
) -> None:
    for index, (_, outcome) in enumerate(batch):
        if outcome.done():  # its caller gave up waiting (the row is committed all the same)
            continue
        if cancelled:
            outcome.cancel()
        elif error is not None:
            outcome.set_exception(error)
        else:
            outcome.set_result(outcomes[index])
