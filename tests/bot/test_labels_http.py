"""A person's sarcastic reaction on any message labels it, over real HTTP; opt-outs hold."""

import logging

import pytest

from bot.workspace import ALEX, YOU
from bot.workspace.model import User
from bot.workspace.payloads import build_reaction_event
from tests.harness import Harness, feedback, stored
from tuning.datasets.classifier import build_classifier_examples
from tuning.records import HUMAN_LABEL, ChannelSettings

SARCASTIC = "upside_down_face"
TEXT = "Oh sure, mail me at sam@example.com, I love reading email at 2am."


async def _quiet(harness: Harness) -> None:
    """Stop the bot flagging in C_GENERAL: only labels can make interactions there."""
    await harness.store.put_channel_settings(ChannelSettings(channel="C_GENERAL", mode="off"))


async def _label(harness: Harness, ts: str, *, user: str = YOU, name: str = SARCASTIC) -> None:
    await harness.ws.add_reaction(user=user, channel="C_GENERAL", ts=ts, name=name)
    await harness.idle()


async def test_a_sarcastic_reaction_on_an_unflagged_message_is_a_redacted_positive_label(harness):
    await _quiet(harness)
    ts = await harness.ws.post_message(user=ALEX, channel="C_GENERAL", text=TEXT)
    await _label(harness, ts)
    [label] = await stored(harness.store, "classify")
    assert (label.ts, label.user, label.output, label.model_version) == (
        ts,
        ALEX,
        "sarcastic",
        HUMAN_LABEL,
    )
    assert "sam@example.com" not in label.input_text
    assert "[email]" in label.input_text
    [given] = await feedback(harness.store)
    assert (given.interaction_id, given.user, given.rating) == (label.id, YOU, 1)
    built = build_classifier_examples([label], {label.id: 1}, [])
    assert [e.target for e in built.items] == ["SARCASTIC"]


async def test_removing_the_reaction_retracts_the_label(harness):
    await _quiet(harness)
    ts = await harness.ws.post_message(user=ALEX, channel="C_GENERAL", text=TEXT)
    await _label(harness, ts)
    await harness.ws.remove_reaction(user=YOU, channel="C_GENERAL", ts=ts, name=SARCASTIC)
    await harness.idle()
    [taken] = await feedback(harness.store)
    assert taken.retracted


async def test_a_thread_reply_is_fetched_and_labelled(harness):
    ws = harness.ws
    await _quiet(harness)
    parent = await ws.post_message(user=YOU, channel="C_GENERAL", text="Deploy on Friday?")
    ts = await ws.post_message(
        user=ALEX, channel="C_GENERAL", text="What could go wrong", thread_ts=parent
    )
    await _label(harness, ts)
    [label] = await stored(harness.store, "classify")
    assert (label.ts, label.thread_ts, label.input_text) == (ts, parent, "What could go wrong")
    assert ws.calls("conversations.replies")


async def test_two_labellers_share_one_interaction(harness):
    await _quiet(harness)
    ts = await harness.ws.post_message(user=ALEX, channel="C_GENERAL", text=TEXT)
    await _label(harness, ts, user=YOU)
    await _label(harness, ts, user=ALEX)  # the author: they know what they meant
    [label] = await stored(harness.store, "classify")
    assert sorted(f.user for f in await feedback(harness.store)) == [ALEX, YOU]
    assert {f.interaction_id for f in await feedback(harness.store)} == {label.id}


async def test_on_a_flag_the_sarcastic_reaction_confirms_it(harness):
    [prediction] = await harness.bot.services.models.classify([TEXT])
    await harness.store.put_channel_settings(
        ChannelSettings(channel="C_GENERAL", threshold=prediction.probability)
    )
    ts = await harness.ws.post_message(user=ALEX, channel="C_GENERAL", text=TEXT)
    await harness.ws.wait_for(lambda: harness.ws.reactions("C_GENERAL", ts))
    await harness.idle()
    await _label(harness, ts)
    await _label(harness, ts, user=ALEX, name="x")  # ✅/❌ keep working beside it
    [flag] = await stored(harness.store, "classify")
    assert flag.model_version != HUMAN_LABEL
    ratings = {(f.user, f.reaction): f.rating for f in await feedback(harness.store)}
    assert ratings == {(YOU, SARCASTIC): 1, (ALEX, "x"): -1}


@pytest.mark.parametrize("who", ["author", "reactor"])
async def test_nothing_is_stored_when_the_author_or_the_labeller_opted_out(harness, who):
    await _quiet(harness)
    await harness.store.set_opt_out(user=ALEX if who == "author" else YOU, opted_out=True)
    ts = await harness.ws.post_message(user=ALEX, channel="C_GENERAL", text=TEXT)
    await _label(harness, ts)
    assert await stored(harness.store) == []
    assert await feedback(harness.store) == []


async def test_reactions_by_bots_and_on_the_bots_replies_or_in_dms_are_no_labels(harness):
    ws = harness.ws
    await _quiet(harness)
    ws.state.users["U_OTHERBOT"] = User("U_OTHERBOT", "otherbot", "Other Bot", "#000", is_bot=True)
    ts = await ws.post_message(user=ALEX, channel="C_GENERAL", text=TEXT)
    await _label(harness, ts, user="U_OTHERBOT")
    dm = await ws.post_message(user=YOU, channel="D_YOU", text="sure, great")
    await harness.idle()
    await ws.add_reaction(user=YOU, channel="D_YOU", ts=dm, name=SARCASTIC)
    await harness.idle()
    posted = await harness.bot.services.make_client().chat_postMessage(
        channel="C_GENERAL", text="I am the bot"
    )
    await _label(harness, str(posted["ts"]))
    assert await stored(harness.store, "classify") == []
    assert await feedback(harness.store) == []


async def test_a_reaction_on_a_deleted_message_is_logged_and_stores_nothing(harness, caplog):
    ws = harness.ws
    await _quiet(harness)
    ts = await ws.post_message(user=ALEX, channel="C_GENERAL", text=TEXT)
    ws.state.delete(ws.state.message("C_GENERAL", ts), by=ALEX)
    event = build_reaction_event(
        "reaction_added",
        user=YOU,
        name=SARCASTIC,
        channel="C_GENERAL",
        ts=ts,
        item_user=ALEX,
        event_ts=ws.state.next_ts(),
    )
    with caplog.at_level(logging.INFO):
        await ws.deliver_events([event])
        await harness.idle()
    assert "no longer exists; nothing stored" in caplog.text
    assert await stored(harness.store) == []
    assert await feedback(harness.store) == []


class TestAConfiguredReaction:
    @pytest.fixture
    def bot_env(self):
        return {"SARCASTIC_REACTION": ":thinking_face:"}

    async def test_only_the_configured_reaction_labels(self, harness):
        await _quiet(harness)
        ts = await harness.ws.post_message(user=ALEX, channel="C_GENERAL", text=TEXT)
        await _label(harness, ts, name=SARCASTIC)
        assert await stored(harness.store) == []
        await _label(harness, ts, name="thinking_face")
        [label] = await stored(harness.store, "classify")
        assert label.model_version == HUMAN_LABEL
