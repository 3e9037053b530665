"""Group commit: who shares a transaction, and what a failure or a cancelled caller does."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from tuning.queue.group_commit import GroupCommit


class Writes:
    """A batch write that records its batches and can be held at its commit."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.fail: set[int] = set()

    async def __call__(self, rows: Sequence[int]) -> list[int]:
        self.batches.append(list(rows))
        await self.release.wait()
        if self.fail & set(rows):
            raise OSError("disk full")
        return [row * 10 for row in rows]


async def test_calls_made_together_share_one_write_and_each_gets_its_own_outcome() -> None:
    writes = Writes()
    commit = GroupCommit(writes)
    assert await asyncio.gather(*(commit(n) for n in range(5))) == [0, 10, 20, 30, 40]
    assert writes.batches == [[0, 1, 2, 3, 4]]


async def test_calls_made_during_a_write_go_together_in_the_next() -> None:
    writes = Writes()
    writes.release.clear()
    commit = GroupCommit(writes)
    first = asyncio.ensure_future(commit(1))
    await asyncio.sleep(0)  # the write of [1] has begun and is held
    later = [asyncio.ensure_future(commit(n)) for n in (2, 3, 4)]
    await asyncio.sleep(0)
    assert writes.batches == [[1]], "a call joined a write already under way"
    writes.release.set()
    assert await asyncio.gather(first, *later) == [10, 20, 30, 40]
    assert writes.batches == [[1], [2, 3, 4]]


async def test_a_failed_write_fails_its_own_batch_only() -> None:
    writes = Writes()
    writes.fail = {2}
    writes.release.clear()
    commit = GroupCommit(writes)
    failing = [asyncio.ensure_future(commit(n)) for n in (1, 2)]
    await asyncio.sleep(0)
    after = asyncio.ensure_future(commit(3))
    writes.release.set()
    outcomes = await asyncio.gather(*failing, return_exceptions=True)
    assert all(isinstance(outcome, OSError) for outcome in outcomes), outcomes
    assert await after == 30
    assert await commit(4) == 40, "the commit stopped after a failure"


async def test_a_caller_cancelled_during_the_write_leaves_the_others_their_outcomes() -> None:
    writes = Writes()
    writes.release.clear()
    commit = GroupCommit(writes)
    calls = [asyncio.ensure_future(commit(n)) for n in range(3)]
    await asyncio.sleep(0)
    calls[0].cancel()
    writes.release.set()
    with pytest.raises(asyncio.CancelledError):
        await calls[0]
    assert await asyncio.gather(*calls[1:]) == [10, 20]
    assert writes.batches == [[0, 1, 2]], "the cancelled call's row was not written with its batch"
