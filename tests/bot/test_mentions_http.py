"""@-mentions and DMs over real HTTP: threaded replies, recorded interactions, Try again."""

import asyncio
import json
import logging

import pytest

from bot.replying.answer import post_chunks
from bot.transports.slack_client import SERVER_ERROR_RETRIES
from bot.views.replies import FRIENDLY_ERROR, MAX_MESSAGE_CHARS, TRY_AGAIN_ACTION
from bot.workspace import BOT_USER_ID, TEAM_ID, YOU
from tests.harness import bot_replies, stored
from tuning.errors import ModelError
from tuning.models.serving import LiveModels

MENTION = f"<@{BOT_USER_ID}>"


class SlowModels(LiveModels):
    """The real models behind a slow backend."""

    async def reply(self, prompt, *, n=None):
        await asyncio.sleep(1.0)
        return await super().reply(prompt, n=n)


class BrokenModels(LiveModels):
    """A generator backend that is down."""

    async def reply(self, prompt, *, n=None):
        raise ModelError("backend unavailable")


async def test_mention_gets_a_threaded_reply_and_a_recorded_interaction(harness):
    ws, store = harness.ws, harness.bot.services.store
    text = f"{MENTION} oh great, mail me at sam@example.com about yet another meeting"
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=text)
    [reply] = await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", ts))
    assert reply["thread_ts"] == ts
    assert reply["text"].strip()
    await harness.idle()
    [interaction] = await stored(store, "generate")
    assert interaction.ts == reply["ts"]
    assert interaction.thread_ts == ts
    assert interaction.channel == "C_GENERAL"
    assert interaction.team == TEAM_ID
    assert interaction.user == YOU
    assert "sam@example.com" not in interaction.input_text
    assert "yet another meeting" in interaction.input_text
    assert BOT_USER_ID not in interaction.input_text
    assert interaction.model_version == harness.bot.services.models.versions["generator"]
    assert len(interaction.candidates) == harness.bot.services.settings.candidates
    scores = [c.score for c in interaction.candidates]
    assert scores == sorted(scores, reverse=True)
    button = reply["blocks"][-1]["elements"][0]
    assert (button["action_id"], button["value"]) == (TRY_AGAIN_ACTION, interaction.id)


async def test_mention_inside_a_thread_replies_in_that_thread(harness):
    ws = harness.ws
    parent = await ws.post_message(user=YOU, channel="C_GENERAL", text="Deploy on a Friday?")
    ts = await ws.post_message(
        user=YOU, channel="C_GENERAL", text=f"{MENTION} what do you think", thread_ts=parent
    )
    replies = await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", parent))
    assert [r["thread_ts"] for r in replies] == [parent]
    assert ts != replies[0]["ts"]


async def test_bare_mention_in_a_thread_answers_the_parent(harness):
    ws, store = harness.ws, harness.bot.services.store
    parent = await ws.post_message(
        user=YOU, channel="C_GENERAL", text="I just love when the build breaks at 5pm"
    )
    await ws.post_message(user=YOU, channel="C_GENERAL", text=MENTION, thread_ts=parent)
    await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", parent))
    await harness.idle()
    assert ws.calls("conversations.replies")
    [interaction] = await stored(store, "generate")
    assert interaction.input_text == "I just love when the build breaks at 5pm"


async def test_bare_mention_outside_a_thread_gets_a_hint_and_nothing_is_stored(harness):
    ws, store = harness.ws, harness.bot.services.store
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=MENTION)
    [reply] = await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", ts))
    assert "Mention me" in reply["text"]
    await harness.idle()
    assert await stored(store) == []


async def test_direct_message_gets_a_reply(harness):
    ws, store = harness.ws, harness.bot.services.store
    ts = await ws.post_message(user=YOU, channel="D_YOU", text="is it Friday yet")
    await ws.wait_for(lambda: bot_replies(ws, "D_YOU", ts))
    await harness.idle()
    [interaction] = await stored(store, "generate")
    assert interaction.channel == "D_YOU"


async def test_try_again_regenerates_and_links_the_parent(harness):
    ws, store = harness.ws, harness.bot.services.store
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"{MENTION} mondays, right")
    [first] = await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", ts))
    await harness.idle()
    reply = await ws.click_button(
        user=YOU, action_id=TRY_AGAIN_ACTION, channel="C_GENERAL", ts=first["ts"]
    )
    assert reply.status == 200
    await ws.wait_for(lambda: len(bot_replies(ws, "C_GENERAL", ts)) == 2)
    await harness.idle()
    parent, retry = sorted(await stored(store, "generate"), key=lambda i: i.created_at)
    assert retry.parent_id == parent.id
    assert retry.input_text == parent.input_text
    assert retry.thread_ts == ts


async def test_five_presses_of_try_again_show_six_different_replies(harness):
    ws, store = harness.ws, harness.bot.services.store
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"{MENTION} mondays, right")
    await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", ts))
    await harness.idle()
    for press in range(1, 6):
        # Press on the first reply, then on the latest: both count what the thread has shown.
        shown = bot_replies(ws, "C_GENERAL", ts)
        target = shown[0] if press % 2 else shown[-1]
        await ws.click_button(
            user=YOU, action_id=TRY_AGAIN_ACTION, channel="C_GENERAL", ts=target["ts"]
        )
        await ws.wait_for(lambda n=press: len(bot_replies(ws, "C_GENERAL", ts)) == n + 1)
        await harness.idle()
    texts = [r["text"] for r in bot_replies(ws, "C_GENERAL", ts)]
    assert len(texts) == 6
    assert len(set(texts)) == 6
    parent, *retries = sorted(await stored(store, "generate"), key=lambda i: i.created_at)
    assert [r.parent_id for r in retries] == [parent.id] * 5
    assert [parent.output, *(r.output for r in retries)] == texts


class OneReplyModels(LiveModels):
    """A generator with a single thing to say: after it was shown, nothing is new."""

    async def retry(self, prompt, *, shown, n=None):
        [best] = await super().retry(prompt, shown=(), n=1)
        return [best] if best.text not in shown else []


@pytest.mark.parametrize("harness", [OneReplyModels], indirect=True)
async def test_try_again_samples_afresh_when_every_reply_was_shown(harness):
    ws, store = harness.ws, harness.bot.services.store
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"{MENTION} mondays, right")
    [first] = await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", ts))
    await harness.idle()
    await ws.click_button(user=YOU, action_id=TRY_AGAIN_ACTION, channel="C_GENERAL", ts=first["ts"])
    await ws.wait_for(lambda: len(bot_replies(ws, "C_GENERAL", ts)) == 2)
    [_, again] = bot_replies(ws, "C_GENERAL", ts)
    await harness.idle()
    assert again["text"] == first["text"]
    assert again["text"] != FRIENDLY_ERROR
    assert len(await stored(store, "generate")) == 2


@pytest.mark.parametrize("harness", [SlowModels], indirect=True)
async def test_slow_backend_shows_progress_after_the_ack(harness):
    ws = harness.ws
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"{MENTION} slow day huh")
    # The app acknowledged (post_message returned) before the model produced anything.
    assert ws.deliveries("events_api")[0].replies[0].status == 200
    assert bot_replies(ws, "C_GENERAL", ts) == []
    await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", ts))
    await harness.idle()
    added = [c.params.get("name") for c in ws.calls("reactions.add")]
    removed = [c.params.get("name") for c in ws.calls("reactions.remove")]
    assert added == ["hourglass_flowing_sand"]
    assert removed == ["hourglass_flowing_sand"]
    assert ws.reactions("C_GENERAL", ts) == {}


async def test_fast_backend_shows_no_hourglass(harness):
    ws = harness.ws
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"{MENTION} quick one")
    await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", ts))
    await harness.idle()
    assert ws.calls("reactions.add") == []


@pytest.mark.parametrize("harness", [BrokenModels], indirect=True)
async def test_broken_generator_gets_one_friendly_line(harness, caplog):
    ws, store = harness.ws, harness.bot.services.store
    with caplog.at_level(logging.ERROR):
        ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"{MENTION} hello?")
        [reply] = await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", ts))
        await harness.idle()
    assert reply["text"] == FRIENDLY_ERROR
    assert "backend unavailable" not in reply["text"]
    assert "reply generation failed" in caplog.text
    assert await stored(store) == []


async def test_rate_limited_post_is_retried_after_retry_after(harness):
    ws = harness.ws
    ws.fail_next("chat.postMessage", status=429, retry_after=1, times=1)
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"{MENTION} limits, huh")
    [reply] = await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", ts), timeout=10)
    await harness.idle()
    statuses = [c.status for c in ws.calls("chat.postMessage")]
    assert statuses == [429, 200]
    assert reply["text"] != FRIENDLY_ERROR


async def test_persistent_500s_hand_the_work_back_and_the_retry_answers_once(harness, caplog):
    # A post that keeps failing is not apologised for and dropped: the work item goes back to
    # the queue, and its next attempt looks in the thread first, then posts the reply.
    ws, store = harness.ws, harness.bot.services.store
    attempts = 1 + SERVER_ERROR_RETRIES
    ws.fail_next("chat.postMessage", status=500, times=attempts)
    with caplog.at_level(logging.WARNING):
        ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"{MENTION} up?")
        [reply] = await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", ts), timeout=20)
        await harness.idle()
    assert [c.status for c in ws.calls("chat.postMessage")] == [500] * attempts + [200]
    assert reply["text"] != FRIENDLY_ERROR
    assert len(bot_replies(ws, "C_GENERAL", ts)) == 1
    assert len(await stored(store)) == 1
    assert "up?" not in caplog.text  # no message text in the logs


async def test_opted_out_user_gets_a_reply_but_nothing_is_stored(harness):
    ws, store = harness.ws, harness.bot.services.store
    await store.set_opt_out(user=YOU, opted_out=True)
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"{MENTION} private, please")
    [reply] = await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", ts))
    await harness.idle()
    assert reply["text"] != FRIENDLY_ERROR
    assert [b["type"] for b in reply["blocks"]] == ["section"]  # no Try again: nothing to link
    assert await stored(store) == []


async def test_long_replies_are_split_within_slack_limits(harness):
    ws = harness.ws
    client = harness.bot.services.make_client()
    text = ("Sure, because that always works. " * 200).strip()  # about 6,600 characters
    first = await post_chunks(
        client, channel="C_GENERAL", thread_ts=ws.state.next_ts(), text=text, interaction_id="i1"
    )
    posts = ws.calls("chat.postMessage")
    assert len(posts) == 3
    assert all(len(c.params["text"]) <= MAX_MESSAGE_CHARS for c in posts)
    assert posts[0].status == 200
    assert first
    assert " ".join(c.params["text"] for c in posts).split() == text.split()
    with_button = [
        len(
            json.loads(c.params["blocks"])
            if isinstance(c.params["blocks"], str)
            else c.params["blocks"]
        )
        for c in posts
    ]
    assert with_button == [1, 1, 2]  # the Try again button only under the last part
