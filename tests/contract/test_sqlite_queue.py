"""What only the SQLite queue promises: processes on one file, the store's file, exact order."""

from __future__ import annotations

import asyncio
import sqlite3
import textwrap
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.clock import ManualClock
from tests.contract.racing import race
from tuning.errors import QueueError
from tuning.queue import open_queue
from tuning.queue.base import MAX_ATTEMPTS, WorkItem
from tuning.queue.sqlite import SqliteQueue
from tuning.queue.sqlite_engine import CHECKPOINT_EVERY, RESTART_FRAMES
from tuning.store.sqlite.schema import MIGRATIONS
from tuning.store.sqlite.store import SqliteStore

MINUTE = timedelta(minutes=1)

WORKER = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from datetime import timedelta
    from tuning.queue.sqlite import SqliteQueue

    async def main(path, start, name):
        queue = SqliteQueue(path)
        await queue.open()
        while time.time() < start:  # both processes begin together
            time.sleep(0.001)
        taken, idle = [], 0
        while idle < 20:  # 20 empty leases in a row: the other process has the rest
            leases = await queue.lease(limit=3, ttl=timedelta(minutes=5), holder=name)
            idle = 0 if leases else idle + 1
            for lease in leases:
                taken.append(lease.item.key)
                await queue.done(lease)
            # Pace the leases so that neither process can take all 200 while the other sleeps
            # in SQLite's busy handler: the test must race, or it proves nothing.
            await asyncio.sleep(0.002)
        await queue.close()
        print(json.dumps(taken))

    asyncio.run(main(sys.argv[1], float(sys.argv[2]), sys.argv[3]))
    """
)


def item(key: str, kind: str = "reply") -> WorkItem:
    return WorkItem(key=key, kind=kind, payload={"text": f"body of {key} – ünïcode"})


@pytest.fixture
async def queue(tmp_path: Path, clock: ManualClock) -> AsyncIterator[SqliteQueue]:
    queue = SqliteQueue(tmp_path / "store.db", clock=clock, busy_timeout=0.2)
    await queue.open()
    yield queue
    await queue.close()


async def fill(path: Path, count: int) -> None:
    filler = SqliteQueue(path)
    for n in range(count):
        await filler.put(item(f"e{n:03}"))
    await filler.close()


def test_two_processes_lease_each_item_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    asyncio.run(fill(path, 200))
    results = race(WORKER, path)
    everything = results[0] + results[1]
    assert len(everything) == len(set(everything)), "an item was leased by both processes"
    assert sorted(everything) == [f"e{n:03}" for n in range(200)]
    assert results[0], "process b took every item: they never overlapped"
    assert results[1], "process a took every item: they never overlapped"


async def test_leases_come_oldest_first_and_exactly_limit(queue: SqliteQueue) -> None:
    for key in ("c", "a", "b", "d"):
        await queue.put(item(key))
    first = await queue.lease(limit=3, ttl=MINUTE, holder="t")
    assert [lease.item.key for lease in first] == ["c", "a", "b"]
    assert [lease.item.key for lease in await queue.lease(limit=3, ttl=MINUTE, holder="t")] == ["d"]


async def test_concurrent_puts_are_each_committed_and_each_deduped(
    queue: SqliteQueue, tmp_path: Path, clock: ManualClock
) -> None:
    keys = [f"e{n:03}" for n in range(50)]
    # Every key twice, all at once: the puts share commits, and one of each pair is a repeat.
    added = await asyncio.gather(*(queue.put(item(key)) for key in keys + keys))
    assert added == [True] * len(keys) + [False] * len(keys)
    # Another connection to the file sees them all while this queue is still open: committed.
    other = SqliteQueue(tmp_path / "store.db", clock=clock)
    try:
        leases = await other.lease(limit=100, ttl=MINUTE, holder="t")
    finally:
        await other.close()
    assert sorted(lease.item.key for lease in leases) == keys
    again = await asyncio.gather(*(queue.put(item(key)) for key in keys))
    assert not any(again), "a committed key was put again"


async def test_a_failed_group_commit_fails_every_put_in_it(
    queue: SqliteQueue, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the file is locked: no commit can succeed
    try:
        outcomes = await asyncio.gather(
            *(queue.put(item(f"e{n}")) for n in range(10)), return_exceptions=True
        )
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert all(isinstance(outcome, QueueError) for outcome in outcomes), outcomes
    assert await queue.lease(limit=10, ttl=MINUTE, holder="t") == []
    assert await queue.put(item("e0")), "a failed put was kept"


async def test_a_put_that_cannot_be_stored_fails_alone(queue: SqliteQueue) -> None:
    bad = WorkItem(key="bad", kind="reply", payload={"text": "\ud800"})  # a lone surrogate
    good, failed = await asyncio.gather(
        queue.put(item("good")), queue.put(bad), return_exceptions=True
    )
    assert good is True
    assert isinstance(failed, QueueError)
    assert [lease.item.key for lease in await queue.lease(limit=5, ttl=MINUTE, holder="t")] == [
        "good"
    ]


async def test_a_lease_that_runs_out_on_its_last_attempt_goes_to_the_dead_letters(
    queue: SqliteQueue, clock: ManualClock
) -> None:
    await queue.put(item("crashy"))
    for attempt in range(1, MAX_ATTEMPTS + 1):
        [lease] = await queue.lease(ttl=MINUTE, holder="t")
        assert lease.attempt == attempt
        clock.advance(MINUTE)  # the worker died: its lease runs out
    assert await queue.lease(ttl=MINUTE, holder="t") == []
    assert [dead.key for dead in await queue.dead_letters()] == ["crashy"]
    assert not await queue.put(item("crashy")), "a dead key was forgotten at once"


async def test_depth_counts_waiting_and_leased_items_by_kind(queue: SqliteQueue) -> None:
    for key, kind in (("r1", "reply"), ("r2", "reply"), ("f1", "flag"), ("f2", "flag")):
        await queue.put(item(key, kind))
    [flag] = await queue.lease(kinds=["flag"], ttl=MINUTE, holder="t")
    await queue.done(flag)
    await queue.lease(kinds=["reply"], ttl=MINUTE, holder="t")  # leased still counts
    assert await queue.depth() == {"reply": 2, "flag": 1}


async def test_an_item_is_not_leased_before_not_before(
    queue: SqliteQueue, clock: ManualClock
) -> None:
    await queue.put(WorkItem(key="later", kind="reply", not_before=clock() + MINUTE))
    assert await queue.lease(ttl=MINUTE, holder="t") == []
    clock.advance(MINUTE)
    [lease] = await queue.lease(ttl=MINUTE, holder="t")
    assert lease.item.not_before == clock()


async def test_a_locked_file_fails_put_and_probe_with_a_queue_error(
    queue: SqliteQueue, tmp_path: Path
) -> None:
    assert await queue.probe()
    # Another process holds the write lock: a read would still work, a write must not.
    other = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        assert await queue.depth() == {}
        assert not await queue.probe()
        with pytest.raises(QueueError, match="locked"):
            await queue.put(item("e1"))
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert await queue.put(item("e1"))


async def test_probe_fails_when_the_disk_has_no_room_left(tmp_path: Path) -> None:
    queue = SqliteQueue(tmp_path / "q.db", min_free_bytes=2**62)  # more than any disk holds
    await queue.open()
    try:
        assert not await queue.probe()
    finally:
        await queue.close()


async def test_the_queue_lives_beside_the_store_in_one_file(
    tmp_path: Path, clock: ManualClock
) -> None:
    path = tmp_path / "store.db"
    store = SqliteStore(path, clock=clock)
    await store.open()
    queue = await open_queue(f"sqlite:///{path}", clock=clock)
    try:
        assert await queue.put(item("e1"))
        assert await store.claim("event:e1", ttl=MINUTE)
        [lease] = await queue.lease(ttl=MINUTE, holder="t")
        assert lease.item == item("e1")
    finally:
        await queue.close()
        await store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


async def test_an_unwritable_path_is_one_line_naming_queue_url(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(QueueError, match=r"^QUEUE_URL: cannot") as caught:
        await open_queue(f"sqlite:///{tmp_path / 'file' / 'q.db'}")
    assert "\n" not in str(caught.value)


async def test_the_write_ahead_log_is_checkpointed_and_started_afresh_while_puts_go_on(
    queue: SqliteQueue, tmp_path: Path
) -> None:
    # The queue's own connection never checkpoints (a checkpoint inside a put's commit made
    # every ack behind it wait); its checkpointer must, and must make the log start over, or
    # the log grows without end.
    wal = tmp_path / "store.db-wal"
    page = 4096
    body = "x" * page  # a page or more a put, beside the indexes' pages
    puts = 5 * RESTART_FRAMES // 4
    for start in range(0, puts, 10):
        batch = [
            WorkItem(key=f"e{n}", kind="reply", payload={"text": body})
            for n in range(start, start + 10)
        ]
        assert all(await asyncio.gather(*(queue.put(one) for one in batch)))
    assert puts // 10 > 2 * CHECKPOINT_EVERY
    assert wal.stat().st_size < 2 * RESTART_FRAMES * page, "the log grew without end"
    leases = await queue.lease(limit=10 * puts, ttl=MINUTE, holder="t")
    assert len(leases) == puts


async def test_a_batch_of_known_and_new_keys_adds_only_the_new_once(queue: SqliteQueue) -> None:
    assert await queue.put(item("old-1"))
    assert await queue.put(item("old-2"))
    keys = ["old-1", "new-1", "old-2", "new-2", "new-1", "new-3"]
    added = await asyncio.gather(*(queue.put(item(key)) for key in keys))  # one commit
    assert added == [False, True, False, True, False, True]
    leases = await queue.lease(limit=10, ttl=MINUTE, holder="t")
    assert [lease.item.key for lease in leases] == ["old-1", "old-2", "new-1", "new-2", "new-3"]
