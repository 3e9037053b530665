"""The worker on a real SQLite queue: work yields to a burst of acks; outages strand no work.

During a burst of puts each kind waits out its pace before it leases, and leases at once when
the burst is over; an outcome the queue could not record during an outage is recorded once it
is back, not after the lease runs out.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.services import Services
from bot.work.kinds import FLAG, MENTION
from bot.work.routes import prepare_flags
from bot.work.worker import RATE_WINDOW, Wakeups, Worker
from tests.queue_faults import FaultySqliteQueue
from tuning.config import Settings
from tuning.models.serving import LiveModels
from tuning.queue.base import WorkItem
from tuning.queue.sqlite import SqliteQueue
from tuning.records import Candidate, Prediction
from tuning.store.sqlite.store import SqliteStore

BURST = 50.0  # puts per second that make a burst, here
FOREVER = 3600.0  # a pace longer than this test runs


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


async def test_during_a_burst_a_kind_waits_out_its_pace_and_leases_at_once_after(
    services: Services, tmp_path: Path
) -> None:
    queue = SqliteQueue(tmp_path / "queue.db")
    await queue.open()
    clock = IntakeClock()
    wakeups = Wakeups(clock=clock)
    done = {key: asyncio.Event() for key in ("flag:1", "flag:2")}

    async def handle(
        services: Services, client: AsyncWebClient, payload: Mapping[str, Any]
    ) -> None:
        done[str(payload["key"])].set()

    worker = Worker(
        services,
        queue,
        {FLAG: handle},
        wakeups=wakeups,
        prepare={},
        poll_seconds=0.01,
        burst_rate=BURST,
        intake_pace=FOREVER,
    )
    worker.start()
    try:
        await queue.put(WorkItem(key="flag:1", kind=FLAG, payload={"key": "flag:1"}))
        await asyncio.wait_for(done["flag:1"].wait(), 5)  # no burst: leased at once
        for _ in range(int(2 * BURST * RATE_WINDOW)):  # twice the burst rate, at one instant
            wakeups.set(FLAG)
        assert wakeups.rate() > BURST
        await asyncio.sleep(0.05)  # five polls: a lease begun before the burst has ended
        await queue.put(WorkItem(key="flag:2", kind=FLAG, payload={"key": "flag:2"}))
        wakeups.set(FLAG)  # as the put of a listener wakes its kind
        await asyncio.sleep(0.2)  # twenty polls: an unpaced loop would have leased it by now
        # The loop waits out its pace: nobody holds the item (the test leases it, hands it back).
        [lease] = await queue.lease(kinds=[FLAG], ttl=timedelta(minutes=1), holder="test")
        await queue.retry(lease, delay=timedelta(0))
        assert not done["flag:2"].is_set()
        clock.now += 100 * RATE_WINDOW  # the burst is long over: the rate has decayed
        await asyncio.wait_for(done["flag:2"].wait(), 5)
    finally:
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


class Recording(Silent):
    """A classifier that records the texts it is asked about."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def classify(self, texts: Sequence[str]) -> list[Prediction]:
        self.seen += texts
        return [Prediction(text=text, label="sarcastic", probability=0.9) for text in texts]


async def test_a_flag_batch_looks_up_together_and_never_classifies_an_opted_out_text(
    services: Services,
) -> None:
    recording = Recording()
    models = LiveModels(
        settings=services.settings, store=services.store, classifier=recording, generator=Silent()
    )
    services = dataclasses.replace(services, models=models)
    await services.store.set_opt_out(user="U_OUT", opted_out=True)

    def flag(n: int, user: str, channel: str = "C1") -> WorkItem:
        event = {"type": "message", "user": user, "channel": channel, "ts": f"1.{n}"}
        body = {"event": {**event, "text": f"text {n} of {user}"}}
        return WorkItem(key=f"flag:{channel}:1.{n}", kind=FLAG, payload={"body": body})

    items = [flag(1, "U1"), flag(2, "U_OUT"), flag(3, "U2", channel="C2")]
    prepared = await prepare_flags(services, items)
    assert recording.seen == ["text 1 of U1", "text 3 of U2"]
    assert [prepared[item.key]["opted_out"] for item in items] == [False, True, False]
    assert "prediction" not in prepared[items[1].key]
    assert [prepared[item.key]["channel_settings"].channel for item in items] == ["C1", "C1", "C2"]
    assert not any(prepared[item.key]["recorded"] for item in items)
