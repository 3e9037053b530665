"""The worker on a real SQLite queue: idle kinds yield to the intake; outages strand no work.

A kind with nothing running waits while events keep arriving, one with work running does
not; an outcome the queue could not record during an outage is recorded once it is back,
not after the lease runs out.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.services import Services
from bot.work.kinds import FLAG, MENTION
from bot.work.worker import Wakeups, Worker
from tests.queue_faults import FaultySqliteQueue
from tuning.config import Settings
from tuning.models.serving import LiveModels
from tuning.queue.base import WorkItem
from tuning.queue.sqlite import SqliteQueue
from tuning.records import Candidate, Prediction
from tuning.store.sqlite.store import SqliteStore

QUIET = 10.0  # seconds of the fake intake clock
FOREVER = 3600.0  # the longest bulk work would wait: longer than this test runs


class Silent:
    """A classifier and generator that are never asked: no handler here calls a model."""

    version = "none"

    async def classify(self, texts: Sequence[str]) -> list[Prediction]:
        raise AssertionError("no model call expected")

    async def generate(
        self, prompt: str, *, n: int, exclude: Collection[str] = ()
    ) -> list[Candidate]:
        raise AssertionError("no model call expected")


class IntakeClock:
    """The clock Wakeups reads put times from; moved by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    settings = Settings.from_env(
        {
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": "secret",
            "DATA_DIR": str(tmp_path / "data"),
            "STORE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        }
    )
    store = SqliteStore(tmp_path / "store.db")
    await store.open()
    models = LiveModels(settings=settings, store=store, classifier=Silent(), generator=Silent())
    yield Services(
        settings=settings,
        store=store,
        models=models,
        make_client=lambda: AsyncWebClient(token="xoxb-test"),
    )
    await store.close()


async def test_an_idle_kind_waits_for_a_quiet_intake_and_a_busy_kind_does_not(
    services: Services, tmp_path: Path
) -> None:
    queue = SqliteQueue(tmp_path / "queue.db")
    await queue.open()
    clock = IntakeClock()
    wakeups = Wakeups(clock=clock)
    done = {key: asyncio.Event() for key in ("flag:1", "flag:2", "mention:1")}
    release = asyncio.Event()

    async def handle(
        services: Services, client: AsyncWebClient, payload: Mapping[str, Any]
    ) -> None:
        key = str(payload["key"])
        done[key].set()
        if key == "flag:1":
            await release.wait()  # keeps flag work running

    worker = Worker(
        services,
        queue,
        {FLAG: handle, MENTION: handle},
        wakeups=wakeups,
        prepare={},
        poll_seconds=0.01,
        intake_quiet=QUIET,
        intake_yield=FOREVER,
    )

    async def put(key: str) -> None:
        # The put is recorded before the item exists, as no loop may lease it before it knows.
        wakeups.set(key.split(":")[0])
        await queue.put(WorkItem(key=key, kind=key.split(":")[0], payload={"key": key}))

    worker.start()
    try:
        await queue.put(WorkItem(key="flag:1", kind=FLAG, payload={"key": "flag:1"}))
        await asyncio.wait_for(done["flag:1"].wait(), 5)  # a quiet intake: leased at once
        await put("flag:2")
        await put("mention:1")
        # Flags have work running: they lease on while events arrive.
        await asyncio.wait_for(done["flag:2"].wait(), 5)
        # Mentions have none: nobody holds this one (the test can lease it, and hands it back).
        [mention] = await queue.lease(kinds=[MENTION], ttl=timedelta(minutes=1), holder="test")
        await queue.retry(mention, delay=timedelta(0))
        assert not done["mention:1"].is_set()
        clock.now += QUIET  # the intake has been quiet long enough
        await asyncio.wait_for(done["mention:1"].wait(), 5)
    finally:
        release.set()
        await worker.stop(within=1)
        await queue.close()


async def test_an_outcome_the_queue_could_not_record_is_recorded_once_it_is_back(
    services: Services, tmp_path: Path
) -> None:
    queue = FaultySqliteQueue(tmp_path / "queue.db")
    await queue.open()
    handled = asyncio.Event()

    async def handle(
        services: Services, client: AsyncWebClient, payload: Mapping[str, Any]
    ) -> None:
        queue.broken = True  # the queue goes down while the item is worked on
        handled.set()

    worker = Worker(services, queue, {MENTION: handle}, wakeups=Wakeups(), prepare={})
    await queue.put(WorkItem(key="mention:1", kind=MENTION))
    worker.start()
    try:
        await asyncio.wait_for(handled.wait(), 5)
        queue.broken = False  # back within seconds; the lease has minutes left
        for _ in range(500):
            if (await queue.states())["mention:1"] == "done":
                break
            await asyncio.sleep(0.02)
        assert (await queue.states())["mention:1"] == "done", "the item waits for its lease"
    finally:
        await worker.stop(within=1)
        await queue.close()
