"""Flagging channel messages over real HTTP: thresholds, modes, and what is never flagged."""

from typing import Any

import pytest

from bot.views.replies import EXPLORE_REACTION
from bot.work.exploration import draw
from bot.workspace import ALEX, BOT_USER_ID, YOU
from bot.workspace.payloads import build_envelope
from tests.harness import Harness, bot_replies, post_signed, stored
from tuning.records import ChannelSettings

TEXT = "Oh wonderful, another all-hands meeting that could have been an email."


async def _probability(harness: Harness, text: str = TEXT) -> float:
    [prediction] = await harness.bot.services.models.classify([text])
    return prediction.probability


async def _settle(harness: Harness, **fields: Any) -> None:
    await harness.bot.services.store.put_channel_settings(
        ChannelSettings(channel="C_GENERAL", **fields)
    )


async def test_at_threshold_is_flagged_with_the_default_reaction(harness):
    ws, store = harness.ws, harness.bot.services.store
    p = await _probability(harness)
    await _settle(harness, threshold=p)
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=TEXT)
    await ws.wait_for(lambda: ws.reactions("C_GENERAL", ts))
    await harness.idle()
    assert ws.reactions("C_GENERAL", ts) == {"upside_down_face": [BOT_USER_ID]}
    [flag] = await stored(store, "classify")
    assert (flag.ts, flag.user, flag.reply_ts) == (ts, YOU, None)
    assert flag.probability == pytest.approx(p)
    assert flag.output == ("sarcastic" if p >= 0.5 else "not_sarcastic")
    assert flag.model_version == harness.bot.services.models.versions["classifier"]


async def test_below_threshold_is_not_flagged(harness):
    ws, store = harness.ws, harness.bot.services.store
    p = await _probability(harness)
    assert p < 1.0
    await _settle(harness, threshold=min(1.0, p + 1e-6))
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=TEXT)
    await harness.idle()
    assert ws.reactions("C_GENERAL", ts) == {}
    assert bot_replies(ws, "C_GENERAL", ts) == []
    assert await stored(store) == []


async def test_default_threshold_is_0_8(harness):
    ws, store = harness.ws, harness.bot.services.store
    p = await _probability(harness)
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=TEXT)
    await harness.idle()
    flagged = bool(ws.reactions("C_GENERAL", ts))
    assert flagged is (p >= 0.8)
    assert len(await stored(store, "classify")) == int(p >= 0.8)


async def test_reply_mode_posts_the_score_in_the_thread(harness):
    ws, store = harness.ws, harness.bot.services.store
    p = await _probability(harness)
    await _settle(harness, threshold=0.0, mode="reply")
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=TEXT)
    [reply] = await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", ts))
    await harness.idle()
    assert reply["text"] == f"Sarcasm detected ({round(p * 100)}%)"
    assert ws.reactions("C_GENERAL", ts) == {}
    [flag] = await stored(store, "classify")
    assert (flag.ts, flag.reply_ts) == (ts, reply["ts"])


async def test_off_mode_flags_nothing(harness):
    ws, store = harness.ws, harness.bot.services.store
    await _settle(harness, threshold=0.0, mode="off")
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=TEXT)
    await harness.idle()
    assert ws.reactions("C_GENERAL", ts) == {}
    assert bot_replies(ws, "C_GENERAL", ts) == []
    assert await stored(store) == []


async def test_custom_reaction_per_channel(harness):
    ws = harness.ws
    await _settle(harness, threshold=0.0, reaction="eyes")
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=TEXT)
    await ws.wait_for(lambda: ws.reactions("C_GENERAL", ts))
    assert ws.reactions("C_GENERAL", ts) == {"eyes": [BOT_USER_ID]}
    other = await ws.post_message(user=YOU, channel="C_RANDOM", text=TEXT)
    await harness.idle()
    assert "eyes" not in ws.reactions("C_RANDOM", other)


async def test_opted_out_users_are_neither_flagged_nor_stored(harness):
    ws, store = harness.ws, harness.bot.services.store
    await _settle(harness, threshold=0.0)
    await store.set_opt_out(user=ALEX, opted_out=True)
    await ws.post_message(user=ALEX, channel="C_GENERAL", text=TEXT)
    await harness.idle()
    assert [c.method for c in ws.calls() if c.method != "auth.test"] == []
    assert await stored(store) == []


async def test_a_message_that_mentions_the_bot_gets_a_reply_not_a_flag(harness):
    ws, store = harness.ws, harness.bot.services.store
    await _settle(harness, threshold=0.0)
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"<@{BOT_USER_ID}> {TEXT}")
    await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", ts))
    await harness.idle()
    assert ws.reactions("C_GENERAL", ts) == {}
    assert [i.kind for i in await stored(store)] == ["generate"]
    assert len(bot_replies(ws, "C_GENERAL", ts)) == 1


@pytest.mark.parametrize(
    "extra",
    [
        {"subtype": "message_changed"},
        {"subtype": "message_deleted"},
        {"subtype": "channel_join"},
        {"subtype": "bot_message", "bot_id": "B_OTHER"},
        {"bot_id": "B_OTHER"},
        {"bot_id": "B_BOT", "user": BOT_USER_ID},
    ],
)
async def test_edits_joins_and_bot_messages_are_ignored(harness, extra):
    ws, store = harness.ws, harness.bot.services.store
    await _settle(harness, threshold=0.0)
    ts = ws.state.next_ts()
    event = {
        "type": "message",
        "channel": "C_GENERAL",
        "channel_type": "channel",
        "user": YOU,
        "text": TEXT,
        "ts": ts,
        "event_ts": ts,
        **extra,
    }
    status, _, _ = await post_signed(harness.url(), build_envelope(event, event_id="EvNOISE"))
    assert status == 200
    await harness.idle()
    assert [c.method for c in ws.calls() if c.method != "auth.test"] == []
    assert await stored(store) == []


async def test_explore_marks_its_share_of_near_misses_by_a_hash_of_the_message(harness):
    ws, store = harness.ws, harness.bot.services.store
    p = await _probability(harness)
    share = 0.2
    await _settle(harness, threshold=min(1.0, p + 0.1), explore=share)
    marked: list[str] = []
    unmarked: list[str] = []
    for _ in range(60):  # until both kinds were seen; 60 misses in a row has odds 0.8**60
        ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=TEXT)
        await harness.idle()
        (marked if draw(channel="C_GENERAL", ts=ts) < share else unmarked).append(ts)
        if marked and unmarked:
            break
    for ts in marked:
        assert ws.reactions("C_GENERAL", ts) == {EXPLORE_REACTION: [BOT_USER_ID]}
    for ts in unmarked:
        assert ws.reactions("C_GENERAL", ts) == {}
    flags = await stored(store, "classify")
    assert [(f.ts, f.output) for f in flags] == [(ts, "sarcastic") for ts in marked]
    assert flags[0].probability == pytest.approx(p)
    await ws.add_reaction(user=ALEX, channel="C_GENERAL", ts=marked[0], name="x")
    await harness.idle()
    [answer] = [f async for f in store.iter_feedback()]
    assert (answer.interaction_id, answer.rating) == (flags[0].id, -1)


async def test_explore_leaves_messages_far_under_the_threshold_alone(harness):
    ws, store = harness.ws, harness.bot.services.store
    plain = "The quarterly report is attached and the review is on Tuesday at 10."
    p = await _probability(harness, plain)
    assert p + 0.25 <= 1.0
    await _settle(harness, threshold=p + 0.25, explore=0.2)
    for _ in range(60):
        ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=plain)
        await harness.idle()
        if draw(channel="C_GENERAL", ts=ts) < 0.2:
            break
    assert draw(channel="C_GENERAL", ts=ts) < 0.2
    assert ws.reactions("C_GENERAL", ts) == {}
    assert await stored(store, "classify") == []
