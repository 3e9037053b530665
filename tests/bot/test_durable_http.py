"""Nothing acked is lost: the queue keeps the work before the 2xx, and a crash leaves it to lease.

Faults over real signed HTTP against the emulated workspace: a queue that refuses writes, a
bot stopped mid-reply and a new process on the same queue, a Web API 500 before the call.
"""

import asyncio
import json
import logging
import multiprocessing
import time
from typing import ClassVar

import aiohttp
import pytest

from bot.runtime import start_bot
from bot.work.worker import LEASE_TTL
from bot.workspace import ALEX, BOT_USER_ID, YOU, sign
from tests.harness import (
    HOST,
    SECRET,
    bot_replies,
    bot_settings,
    eventually,
    feedback,
    post_signed,
    stored,
)
from tests.queue_faults import FaultySqliteQueue
from tuning.errors import StoreError
from tuning.models.serving import LiveModels
from tuning.records import ChannelSettings, utcnow
from tuning.store.sqlite.store import SqliteStore

MENTION = f"<@{BOT_USER_ID}>"


class StuckModels(LiveModels):
    """A generator that never answers: the process is killed while the reply is in the model."""

    async def reply(self, prompt, *, n=None):
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_a_queue_that_cannot_write_answers_503_then_the_redelivery_is_answered(harness):
    ws = harness.ws
    [queue] = harness.queues
    ws.event_url = None  # deliver by hand, to see each answer
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"{MENTION} are you there?")
    [event] = ws.events("app_mention")
    queue.broken = True  # a full disk, a store outage
    assert (await post_signed(harness.url(), event))[0] == 503  # not 200-and-drop
    queue.broken = False
    await harness.idle()
    assert bot_replies(ws, "C_GENERAL", ts) == []
    assert (await post_signed(harness.url(), event, retry_num=1))[0] == 200
    await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", ts))
    await harness.idle()
    assert len(bot_replies(ws, "C_GENERAL", ts)) == 1


@pytest.mark.parametrize("harness", [StuckModels], indirect=True)
async def test_a_bot_stopped_mid_reply_leaves_the_mention_to_the_next_process(harness):
    ws = harness.ws
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"{MENTION} still there?")
    first = harness.bot
    await ws.wait_for(lambda: first.worker is not None and first.worker.running == 1)
    assert await first.stop(drain_seconds=0) == 1  # killed: the lease is abandoned, not done
    harness.bots.remove(first)
    assert bot_replies(ws, "C_GENERAL", ts) == []
    # The next process sees the world after the lease expired (its queue's clock is ahead).
    later = FaultySqliteQueue(harness.root / "queue.db", clock=lambda: utcnow() + 2 * LEASE_TTL)
    await later.open()
    harness.queues.append(later)
    settings = bot_settings(ws, harness.root)
    harness.bots.append(await start_bot(settings, host=HOST, port=0, queue=later))
    ws.event_url = harness.url()
    await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", ts), timeout=10)
    await harness.idle()
    assert len(bot_replies(ws, "C_GENERAL", ts)) == 1
    assert len(await stored(harness.store, "generate")) == 1
    # Done: nothing waits or is leased, and nothing went to the dead letters.
    assert not any((await later.depth()).values())
    assert await later.dead_letters() == []


async def test_the_queue_key_makes_every_delivery_one_item(harness):
    ws = harness.ws
    ws.event_url = None
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"{MENTION} once only")
    envelopes = [e for e in ws.events() if e["event"].get("ts") == ts]
    statuses = await asyncio.gather(
        *[post_signed(harness.url(), e, retry_num=n) for e in envelopes for n in (None, 1, 2)]
    )
    assert {status for status, _, _ in statuses} == {200}
    await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", ts))
    await harness.idle()
    [queue] = harness.queues
    assert sorted(await queue.states()) == [f"mention:C_GENERAL:{ts}"]
    assert len(bot_replies(ws, "C_GENERAL", ts)) == 1


async def test_a_500_before_the_call_is_retried_and_answered(harness):
    ws = harness.ws
    ws.fail_next("chat.postMessage", status=500, times=1)
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"{MENTION} try hard")
    await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", ts))
    await harness.idle()
    [reply] = bot_replies(ws, "C_GENERAL", ts)
    assert reply["text"]


@pytest.mark.parametrize(("status", "error"), [(500, ""), (200, "invalid_auth")])
async def test_a_failing_auth_test_at_cold_start_is_not_acked(harness, status, error):
    ws = harness.ws
    assert ws.calls("auth.test") == []  # nothing asked Slack yet: a cold start
    ws.event_url = None
    ws.fail_next("auth.test", status=status, error=error, times=10)
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"{MENTION} wake up")
    [event] = ws.events("app_mention")
    assert (await post_signed(harness.url(), event))[0] == 503  # Slack will deliver it again
    ws.clear_failures()  # Slack is back
    assert (await post_signed(harness.url(), event, retry_num=1))[0] == 200
    await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", ts))
    await harness.idle()
    assert len(bot_replies(ws, "C_GENERAL", ts)) == 1


@pytest.mark.parametrize("status", [0, 500])
async def test_a_post_applied_before_its_answer_was_lost_is_not_posted_twice(harness, status):
    ws = harness.ws
    # Slack posts the reply, then the connection resets (0) or a 500 comes back.
    ws.fail_next("chat.postMessage", status=status, times=1, after_apply=True)
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"{MENTION} twice?")
    [reply] = await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", ts), timeout=10)
    await harness.idle()
    assert len(bot_replies(ws, "C_GENERAL", ts)) == 1
    assert reply["metadata"]["event_type"] == "sarcasm_bot_reply"
    [interaction] = await stored(harness.store, "generate")
    assert reply["metadata"]["event_payload"]["interaction_id"] == interaction.id
    assert interaction.ts == reply["ts"]
    assert [c.method for c in ws.calls() if c.method.startswith("conv")] == [
        "conversations.replies"
    ]


async def test_a_retried_item_finds_its_earlier_post_in_the_thread(harness):
    ws = harness.ws
    ws.fail_next("chat.postMessage", status=0, times=1, after_apply=True)
    ws.fail_next("conversations.replies", status=500, times=3)  # the lookup fails too
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"{MENTION} lost?")
    await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", ts), timeout=10)
    await harness.idle()  # the item is retried (attempt 2): it looks first, and finds the post
    assert len(bot_replies(ws, "C_GENERAL", ts)) == 1


async def test_a_long_retry_after_does_not_stall_other_replies(harness):
    ws = harness.ws
    ws.fail_next("chat.postMessage", status=429, retry_after=600, times=1)
    slow = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"{MENTION} first")
    await ws.wait_for(lambda: [c for c in ws.calls("chat.postMessage") if c.status == 429])
    # The rate-limited item waits in the queue for 10 minutes; a second mention goes ahead.
    fast = await ws.post_message(user=YOU, channel="C_RANDOM", text=f"{MENTION} second")
    await ws.wait_for(lambda: bot_replies(ws, "C_RANDOM", fast), timeout=10)
    assert bot_replies(ws, "C_GENERAL", slow) == []
    [queue] = harness.queues
    states = await queue.states()
    assert states[f"mention:C_GENERAL:{slow}"] == "ready"
    worker = harness.bot.worker
    assert worker is not None
    await ws.wait_for(lambda: worker.running == 0)  # nobody sleeps on the Retry-After


class GatedModels(LiveModels):
    """The real classifier, recording each call's batch size; the first call waits for a gate."""

    batches: ClassVar[list[int]] = []
    gate: ClassVar[asyncio.Event] = asyncio.Event()

    async def classify(self, texts):
        type(self).batches.append(len(texts))
        if len(type(self).batches) == 1:
            await type(self).gate.wait()
        return await super().classify(texts)


@pytest.mark.parametrize("harness", [GatedModels], indirect=True)
async def test_waiting_messages_are_classified_in_one_batch(harness):
    ws, store = harness.ws, harness.store
    GatedModels.batches, GatedModels.gate = [], asyncio.Event()
    await store.put_channel_settings(
        ChannelSettings(channel="C_GENERAL", threshold=0.0, mode="reply")
    )
    first = await ws.post_message(user=YOU, channel="C_GENERAL", text="Oh great, a meeting.")
    await ws.wait_for(lambda: GatedModels.batches == [1])  # the worker is in the model
    burst = [
        await ws.post_message(user=YOU, channel="C_GENERAL", text=f"Sure, love it #{i}.")
        for i in range(9)
    ]
    GatedModels.gate.set()
    await harness.idle()
    assert GatedModels.batches == [1, 9]
    for ts in [first, *burst]:
        assert len(bot_replies(ws, "C_GENERAL", ts)) == 1
    assert len(await stored(store, "classify")) == 10


async def test_auth_test_on_a_dropped_connection_answers_503_with_retry_after(harness, caplog):
    ws = harness.ws
    ws.event_url = None
    # The real Web API server drops every auth.test connection: the client's own retries fail too.
    ws.fail_next("auth.test", status=0, times=10)
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"{MENTION} anyone there")
    [event] = ws.events("app_mention")
    body = json.dumps(event).encode()
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": sign(SECRET, stamp, body),
    }
    with caplog.at_level(logging.INFO):
        async with (
            aiohttp.ClientSession() as session,
            session.post(harness.url(), data=body, headers=headers) as resp,
        ):
            assert resp.status == 503  # not a crash's 500: Slack delivers it again
            assert int(resp.headers["Retry-After"]) > 0
    assert [c.error for c in ws.calls("auth.test")][:1] == ["connection_reset"]
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert lines[0].exc_info is None
    assert "auth.test" in lines[0].getMessage()
    ws.clear_failures()  # Slack is back
    assert (await post_signed(harness.url(), event, retry_num=1))[0] == 200
    await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", ts))


class RecordingFailsOnce(SqliteStore):
    """The real store, whose first reply record fails (a crash after the post) and whose
    second waits for a gate, so a reaction can land on the reply before it is recorded."""

    failed = False
    gate: asyncio.Event

    async def add_interaction(self, interaction):
        if interaction.kind == "generate" and not self.failed:
            self.failed = True
            raise StoreError("disk I/O error after the post (test fault)")
        if interaction.kind == "generate":
            await self.gate.wait()
        await super().add_interaction(interaction)


async def test_a_rating_given_before_its_reply_is_recorded_joins_it(harness):
    """Posted, then the record failed: the retry records it later, and no rating is lost."""
    ws = harness.ws
    store = RecordingFailsOnce(harness.root / "store.db")
    store.gate = asyncio.Event()
    await store.open()
    harness.stores.append(store)
    bot = await start_bot(bot_settings(ws, harness.root), host=HOST, port=0, store=store)
    harness.bots.append(bot)
    ws.event_url = harness.url(1)
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"{MENTION} recorded?")
    [reply] = await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", ts), timeout=10)
    await ws.wait_for(lambda: store.failed)
    await ws.add_reaction(user=ALEX, channel="C_GENERAL", ts=reply["ts"], name="+1")
    await ws.wait_for(lambda: ws.calls("conversations.history"))
    await eventually(lambda: _has_feedback(store))
    assert await stored(store, "generate") == []  # the rating came first
    store.gate.set()
    await harness.idle()
    [interaction] = await stored(store, "generate")
    assert interaction.ts == reply["ts"]
    assert len(bot_replies(ws, "C_GENERAL", ts)) == 1
    [rating] = await feedback(store)
    assert (rating.interaction_id, rating.user, rating.rating) == (interaction.id, ALEX, 1)


async def _has_feedback(store: SqliteStore) -> bool:
    return bool(await feedback(store))


@pytest.mark.slow
@pytest.mark.parametrize("bot_env", [{"MODEL_PROCESSES": "1"}])
async def test_with_model_processes_messages_are_flagged_and_stop_leaves_no_child(harness):
    text = "Oh sure, I just love it when the deploy breaks at 2am."
    [prediction] = await harness.bot.services.models.classify([text])
    assert len(multiprocessing.active_children()) == 1  # the classifier runs in its child
    await harness.store.put_channel_settings(
        ChannelSettings(channel="C_GENERAL", threshold=prediction.probability)
    )
    ts = await harness.ws.post_message(user=ALEX, channel="C_GENERAL", text=text)
    await harness.ws.wait_for(lambda: harness.ws.reactions("C_GENERAL", ts))
    await harness.idle()
    [flag] = await stored(harness.store, "classify")
    assert (flag.input_text, flag.output) == (text, "sarcastic")
    assert flag.probability == pytest.approx(prediction.probability)
    bot = harness.bot
    await bot.stop()
    harness.bots.remove(bot)
    assert multiprocessing.active_children() == []
