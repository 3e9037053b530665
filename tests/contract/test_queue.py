"""One contract for every WorkQueue: SQLite (on a manual clock) and Pub/Sub (on its emulator).

SQLite's leases and delays expire by moving the manual clock. Pub/Sub's ack deadlines and
backoff run on the server's clock, so its variants of those tests wait for short real deadlines
(marked ``realtime``) by polling, never by sleeping a fixed time.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest

from tests.clock import ManualClock
from tuning.errors import QueueError
from tuning.queue.base import DEDUPE_WINDOW, MAX_ATTEMPTS, Lease, WorkItem, WorkQueue
from tuning.queue.sqlite import SqliteQueue
from tuning.store.sqlite.store import SqliteStore

KINDS = ("reply", "flag", "feedback")
PUBSUB_PROJECT = "sarcasm-bot-test"
MINUTE = timedelta(minutes=1)
POLL_SECONDS = 30.0  # the longest a poll waits for the emulator (it takes a few seconds at most)


def item(key: str, kind: str = "reply", **payload: object) -> WorkItem:
    return WorkItem(key=key, kind=kind, payload=payload or {"text": f"body of {key}"})


async def make_pubsub(store: SqliteStore, clock: ManualClock, topic: str) -> WorkQueue:
    from tuning.queue.pubsub import PubSubQueue

    queue = PubSubQueue(
        project=PUBSUB_PROJECT,
        topic=topic,
        kinds=KINDS,
        store=store,
        clock=clock,
        push=False,
        # Short backoff and pulls, so that redeliveries come within a second or two.
        min_backoff=timedelta(seconds=0),
        max_backoff=timedelta(seconds=1),
        pull_wait=0.5,
    )
    await queue.open()
    return queue


@pytest.fixture
async def sqlite_queue(tmp_path: Path, clock: ManualClock) -> AsyncIterator[WorkQueue]:
    """Yield an open SqliteQueue in the store's file."""
    queue = SqliteQueue(tmp_path / "store.db", clock=clock)
    await queue.open()
    yield queue
    await queue.close()


@pytest.fixture
async def pubsub_queue(
    pubsub_emulator: str, sqlite_store: SqliteStore, clock: ManualClock
) -> AsyncIterator[WorkQueue]:
    """Yield an open PubSubQueue on the emulator, with topics of its own."""
    queue = await make_pubsub(sqlite_store, clock, f"work-{uuid.uuid4().hex[:10]}")
    yield queue
    await queue.close()


@pytest.fixture(params=["sqlite", pytest.param("pubsub", marks=pytest.mark.emulator)])
def queue(request: pytest.FixtureRequest) -> WorkQueue:
    """Return an open, empty queue of each implementation in turn."""
    fixture: WorkQueue = request.getfixturevalue(f"{request.param}_queue")
    return fixture


# For the tests that wait on Pub/Sub's own clock: mark its variant, so that -m can leave it out.
on_server_time = pytest.mark.parametrize(
    "queue",
    ["sqlite", pytest.param("pubsub", marks=[pytest.mark.emulator, pytest.mark.realtime])],
    indirect=True,
)


def realtime(queue: WorkQueue) -> bool:
    """Return whether this queue's leases run out on a server's clock, not the test's."""
    return not isinstance(queue, SqliteQueue)


async def eventually(lease: Callable[[], Awaitable[list[Lease]]]) -> list[Lease]:
    """Call ``lease`` until it returns something; fail after POLL_SECONDS."""
    deadline = asyncio.get_running_loop().time() + POLL_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        if leases := await lease():
            return leases
        await asyncio.sleep(0.05)
    pytest.fail(f"nothing could be leased within {POLL_SECONDS:.0f} s")


async def take(queue: WorkQueue, *, ttl: timedelta = MINUTE, **kwargs: object) -> list[Lease]:
    return await eventually(lambda: queue.lease(ttl=ttl, holder="test", **kwargs))  # type: ignore[arg-type]


async def test_put_lease_done(queue: WorkQueue) -> None:
    assert await queue.put(item("e1", text="hello"))
    [lease] = await take(queue)
    assert lease.item == item("e1", text="hello")
    assert lease.attempt == 1
    assert lease.expires_at == queue.clock() + MINUTE
    await queue.done(lease)
    assert await queue.lease(ttl=MINUTE, holder="test") == []
    assert await queue.dead_letters() == []


async def test_puts_at_once_of_one_key_add_it_once(queue: WorkQueue) -> None:
    # Concurrent puts may share a commit (SQLite) or not (Pub/Sub): one of them reports adding
    # the item. Pub/Sub may still carry a copy of the others (it publishes before it marks the
    # key, so a crash cannot lose an item); the work's effects are idempotent.
    keys = ["same", "other", "same", "same", "other", "third"]
    added = await asyncio.gather(*(queue.put(item(key)) for key in keys))
    assert sorted(key for key, new in zip(keys, added, strict=True) if new) == [
        "other",
        "same",
        "third",
    ]
    leases = await queue.lease(limit=10, ttl=timedelta(minutes=1), holder="h")
    assert {lease.item.key for lease in leases} == {"other", "same", "third"}


async def test_put_is_idempotent_on_key_until_the_dedupe_window_ends(
    queue: WorkQueue, clock: ManualClock
) -> None:
    assert await queue.put(item("e1"))
    assert not await queue.put(item("e1", text="a redelivered copy"))
    [lease] = await take(queue)
    await queue.done(lease)
    assert not await queue.put(item("e1")), "a done key is forgotten too early"
    assert await queue.lease(ttl=MINUTE, holder="test") == []
    clock.advance(DEDUPE_WINDOW + timedelta(seconds=1))
    assert await queue.put(item("e1")), "a key is remembered forever"


@on_server_time
async def test_an_expired_lease_is_leased_again_and_its_done_ignored(
    queue: WorkQueue, clock: ManualClock
) -> None:
    await queue.put(item("e1"))
    ttl = timedelta(seconds=1) if realtime(queue) else MINUTE
    [first] = await take(queue, ttl=ttl)
    if not realtime(queue):
        assert await queue.lease(ttl=ttl, holder="b") == [], "leased twice at once"
        clock.advance(ttl)
    [second] = await take(queue, ttl=MINUTE)  # on Pub/Sub: once the 1 s deadline ran out
    assert (second.item, second.attempt) == (first.item, 2)
    await queue.done(first)  # too late: the item is the second holder's now
    await queue.retry(second, delay=timedelta(0))
    [third] = await take(queue)
    assert (third.item.key, third.attempt) == ("e1", 3), "a stale done finished the item"
    await queue.done(third)


@on_server_time
async def test_retry_holds_the_item_back_for_the_delay(
    queue: WorkQueue, clock: ManualClock
) -> None:
    await queue.put(item("e1"))
    [first] = await take(queue)
    delay = timedelta(seconds=4) if realtime(queue) else timedelta(minutes=5)
    await queue.retry(first, delay=delay)
    assert await queue.lease(ttl=MINUTE, holder="test") == [], "retried without its delay"
    if not realtime(queue):
        clock.advance(delay - timedelta(seconds=1))
        assert await queue.lease(ttl=MINUTE, holder="test") == []
        clock.advance(timedelta(seconds=1))
    [second] = await take(queue)
    assert (second.item.key, second.attempt) == ("e1", 2)


@on_server_time
async def test_an_item_dies_after_max_attempts(queue: WorkQueue) -> None:
    await queue.put(item("doomed"))
    await queue.put(item("fine", kind="flag"))
    for attempt in range(1, MAX_ATTEMPTS + 1):
        [lease] = await take(queue, kinds=["reply"])
        assert lease.attempt == attempt
        await queue.retry(lease, delay=timedelta(0))
    dead = await eventually_dead(queue, "reply")
    assert [letter.key for letter in dead] == ["doomed"]
    assert await queue.lease(kinds=["reply"], ttl=MINUTE, holder="test") == []
    [fine] = await take(queue, kinds=["flag"])
    assert fine.item.key == "fine"


async def eventually_dead(queue: WorkQueue, kind: str) -> list[WorkItem]:
    # SQLite buries at once. The Pub/Sub emulator forwards a message to the dead-letter topic
    # when its subscription is next pulled, so keep leasing, as workers would: nothing may come.
    deadline = asyncio.get_running_loop().time() + POLL_SECONDS
    while not (dead := await queue.dead_letters()):
        assert asyncio.get_running_loop().time() < deadline, "nothing reached the dead letters"
        assert await queue.lease(kinds=[kind], ttl=MINUTE, holder="t") == [], "leased once more"
        await asyncio.sleep(0.1)
    return dead


async def test_lease_takes_only_the_kinds_asked_for(queue: WorkQueue) -> None:
    await queue.put(item("r1", kind="reply"))
    await queue.put(item("f1", kind="flag"))
    [flag] = await take(queue, kinds=["flag"], limit=10)
    assert flag.item.key == "f1"
    assert await queue.lease(kinds=["flag", "feedback"], ttl=MINUTE, holder="t") == []
    [reply] = await take(queue, kinds=["reply"], limit=10)
    assert reply.item.key == "r1"


async def test_lease_returns_at_most_limit(queue: WorkQueue) -> None:
    keys = {f"e{n}" for n in range(5)}
    for key in sorted(keys):
        await queue.put(item(key))
    seen: list[str] = []
    while len(seen) < len(keys):
        leases = await take(queue, limit=3)
        assert len(leases) <= 3
        seen += [lease.item.key for lease in leases]
    assert sorted(seen) == sorted(keys)


async def test_probe_writes(queue: WorkQueue) -> None:
    assert await queue.probe()


async def test_a_lease_longer_than_ten_minutes_is_refused(queue: WorkQueue) -> None:
    with pytest.raises(QueueError, match="at most"):
        await queue.lease(ttl=timedelta(minutes=11), holder="test")


async def test_a_payload_that_is_not_json_is_refused(queue: WorkQueue) -> None:
    with pytest.raises(QueueError, match="JSON"):
        await queue.put(WorkItem(key="e1", kind="reply", payload={"when": object()}))


async def test_two_workers_never_hold_one_item_at_once(
    queue: WorkQueue, request: pytest.FixtureRequest, clock: ManualClock, tmp_path: Path
) -> None:
    """Two queues (two connections or two clients) on one backend share 100 items exactly."""
    if isinstance(queue, SqliteQueue):
        other: WorkQueue = SqliteQueue(tmp_path / "store.db", clock=clock)
        await other.open()
    else:
        other = await make_pubsub(request.getfixturevalue("sqlite_store"), clock, queue.topic)  # type: ignore[attr-defined]
    keys = [f"e{n:03}" for n in range(100)]
    for key in keys:
        await queue.put(item(key))
    taken: dict[str, list[str]] = {"a": [], "b": []}

    async def work(worker: WorkQueue, name: str) -> None:
        deadline = asyncio.get_running_loop().time() + 60
        while sum(map(len, taken.values())) < len(keys):
            assert asyncio.get_running_loop().time() < deadline, "the workers stalled"
            for lease in await worker.lease(limit=5, ttl=timedelta(minutes=5), holder=name):
                taken[name].append(lease.item.key)
                await asyncio.sleep(0)  # let the other worker lease while this one "works"
                await worker.done(lease)
            await asyncio.sleep(0)

    try:
        await asyncio.gather(work(queue, "a"), work(other, "b"))
    finally:
        await other.close()
    everything = taken["a"] + taken["b"]
    assert len(everything) == len(set(everything)), "an item was leased twice"
    assert sorted(everything) == keys
