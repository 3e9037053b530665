"""Reactions over real HTTP: feedback stored, retracted, and ignored where it means nothing."""

from bot.workspace import ALEX, BOT_USER_ID, YOU
from tests.harness import Harness, bot_replies, feedback, post_signed, stored
from tuning.records import ChannelSettings

MENTION = f"<@{BOT_USER_ID}>"


async def _reply(harness: Harness) -> tuple[str, str]:
    ws = harness.ws
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"{MENTION} love meetings")
    [reply] = await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", ts))
    await harness.idle()
    return ts, reply["ts"]


async def test_reaction_on_a_reply_is_stored_and_removal_retracts_it(harness):
    ws, store = harness.ws, harness.bot.services.store
    _, reply_ts = await _reply(harness)
    [interaction] = await stored(store, "generate")
    await ws.add_reaction(user=ALEX, channel="C_GENERAL", ts=reply_ts, name="+1::skin-tone-3")
    await harness.idle()
    [given] = await feedback(store)
    assert (given.interaction_id, given.user, given.reaction, given.rating) == (
        interaction.id,
        ALEX,
        "+1",
        1,
    )
    assert not given.retracted
    await ws.remove_reaction(user=ALEX, channel="C_GENERAL", ts=reply_ts, name="+1::skin-tone-3")
    await harness.idle()
    [taken] = await feedback(store)
    assert taken.retracted
    assert await feedback(store, include_retracted=False) == []


async def test_negative_reaction_rates_minus_one(harness):
    ws, store = harness.ws, harness.bot.services.store
    _, reply_ts = await _reply(harness)
    await ws.add_reaction(user=YOU, channel="C_GENERAL", ts=reply_ts, name="face_palm")
    await harness.idle()
    assert [f.rating for f in await feedback(store)] == [-1]


async def test_redelivered_reaction_is_stored_once(harness):
    ws, store = harness.ws, harness.bot.services.store
    _, reply_ts = await _reply(harness)
    await ws.add_reaction(user=YOU, channel="C_GENERAL", ts=reply_ts, name="joy")
    event_id = ws.events("reaction_added")[-1]["event_id"]
    await ws.redeliver(event_id, retry_num=1)
    await harness.idle()
    assert len(await feedback(store)) == 1


async def test_reactions_that_mean_nothing_store_nothing(harness):
    ws, store = harness.ws, harness.bot.services.store
    prompt_ts, reply_ts = await _reply(harness)
    other = await ws.post_message(user=ALEX, channel="C_RANDOM", text="lunch at noon")
    await ws.add_reaction(user=YOU, channel="C_RANDOM", ts=other, name="+1")  # unrelated
    await ws.add_reaction(user=YOU, channel="C_GENERAL", ts=prompt_ts, name="+1")  # the prompt
    await ws.add_reaction(user=YOU, channel="C_GENERAL", ts=reply_ts, name="tada")  # unmapped
    await ws.add_reaction(user=YOU, channel="C_GENERAL", ts=reply_ts, name="x")  # flag-only
    await harness.idle()
    assert await feedback(store) == []


async def test_opted_out_reactions_are_not_stored(harness):
    ws, store = harness.ws, harness.bot.services.store
    _, reply_ts = await _reply(harness)
    await store.set_opt_out(user=ALEX, opted_out=True)
    await ws.add_reaction(user=ALEX, channel="C_GENERAL", ts=reply_ts, name="+1")
    await harness.idle()
    assert await feedback(store) == []


async def test_flag_feedback_on_the_flagged_message_and_the_thread_reply(harness):
    ws, store = harness.ws, harness.bot.services.store
    await store.put_channel_settings(ChannelSettings(channel="C_GENERAL", threshold=0.0))
    await store.put_channel_settings(
        ChannelSettings(channel="C_RANDOM", threshold=0.0, mode="reply")
    )
    reacted = await ws.post_message(user=ALEX, channel="C_GENERAL", text="Sure, love Mondays.")
    replied = await ws.post_message(user=ALEX, channel="C_RANDOM", text="Sure, love Mondays.")
    [flag_reply] = await ws.wait_for(lambda: bot_replies(ws, "C_RANDOM", replied))
    await ws.wait_for(lambda: ws.reactions("C_GENERAL", reacted))
    await harness.idle()
    flags = {i.channel: i for i in await stored(store, "classify")}
    # The bot's own flag reaction came back as reaction_added and is not feedback.
    assert ws.events("reaction_added")
    assert await feedback(store) == []
    await ws.add_reaction(user=YOU, channel="C_GENERAL", ts=reacted, name="white_check_mark")
    await ws.add_reaction(user=YOU, channel="C_RANDOM", ts=flag_reply["ts"], name="x")
    await harness.idle()
    ratings = {f.interaction_id: f.rating for f in await feedback(store)}
    assert ratings == {flags["C_GENERAL"].id: 1, flags["C_RANDOM"].id: -1}


async def test_a_late_reaction_added_retry_cannot_undo_a_newer_removal(harness):
    ws, store = harness.ws, harness.bot.services.store
    _, reply_ts = await _reply(harness)
    ws.event_url = None  # deliver by hand: the add's first delivery was lost
    await ws.add_reaction(user=YOU, channel="C_GENERAL", ts=reply_ts, name="joy")
    await ws.remove_reaction(user=YOU, channel="C_GENERAL", ts=reply_ts, name="joy")
    added, removed = ws.events("reaction_added")[-1], ws.events("reaction_removed")[-1]
    assert added["event"]["event_ts"] < removed["event"]["event_ts"]
    assert (await post_signed(harness.url(), removed))[0] == 200
    # Slack retries the add after the removal was applied.
    assert (await post_signed(harness.url(), added, retry_num=1))[0] == 200
    await harness.idle()
    assert await feedback(store, include_retracted=False) == []
