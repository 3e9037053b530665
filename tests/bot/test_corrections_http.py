"""A 👎 can come with a better reply, over real HTTP: the offer, the modal, its checks, storage."""

import logging

import pytest

from bot.runtime import start_bot
from bot.views.corrections import (
    CORRECTION_BLOCK,
    CORRECTION_INPUT,
    CORRECTION_VIEW,
    EMPTY,
    GONE,
    MAX_CORRECTION_CHARS,
    NOT_SAVED,
    OPTED_OUT,
    SUGGEST_ACTION,
    THANKS,
)
from bot.workspace import ALEX, BOT_USER_ID, YOU
from tests.harness import HOST, Harness, bot_replies, bot_settings, feedback, stored
from tests.queue_faults import FaultySqliteStore
from tuning.records import Correction

MENTION = f"<@{BOT_USER_ID}>"


def _values(text: str) -> dict:
    return {CORRECTION_BLOCK: {CORRECTION_INPUT: {"type": "plain_text_input", "value": text}}}


async def _thumbs_down(harness: Harness, *, user: str = ALEX) -> tuple[str, str]:
    """Get a reply to a mention, 👎 it as ``user``; return (prompt ts, reply ts)."""
    ws = harness.ws
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"{MENTION} love meetings")
    [reply] = await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", ts))
    await harness.idle()
    await ws.add_reaction(user=user, channel="C_GENERAL", ts=reply["ts"], name="-1")
    await harness.idle()
    return ts, reply["ts"]


async def _open_modal(harness: Harness, *, user: str = ALEX) -> str:
    """Press the offer's button as ``user``; return the interaction id it names."""
    ws = harness.ws
    [offer] = ws.ephemerals(user=user, channel="C_GENERAL")
    button = offer.blocks[-1]["elements"][0]
    assert button["action_id"] == SUGGEST_ACTION
    reply = await ws.click_button(
        user=user, action_id=SUGGEST_ACTION, channel="C_GENERAL", ts=offer.ts
    )
    assert reply.status == 200
    await harness.idle()
    return str(button["value"])


async def _corrections(harness: Harness) -> list[Correction]:
    return [c async for c in harness.store.iter_corrections()]


async def test_a_thumbs_down_offers_a_modal_whose_reply_is_stored_redacted(harness):
    ws = harness.ws
    prompt_ts, _ = await _thumbs_down(harness)
    [interaction] = await stored(harness.store, "generate")
    [offer] = ws.ephemerals(user=ALEX, channel="C_GENERAL")
    assert offer.thread_ts == prompt_ts  # beside the reply, in its thread
    assert ws.ephemerals(user=YOU, channel="C_GENERAL") == []  # only the 👎's giver sees it
    assert await _open_modal(harness) == interaction.id
    modal = ws.modal(ALEX)
    assert modal is not None
    assert modal["callback_id"] == CORRECTION_VIEW
    assert [c.method for c in ws.calls("views.open")] == ["views.open"]
    answer = await ws.submit_view(
        user=ALEX, values=_values("Oh joy, a meeting. Mail complaints to sam@example.com")
    )
    assert answer.status == 200
    await harness.idle()
    assert ws.modal(ALEX) is None
    [correction] = await _corrections(harness)
    assert (correction.interaction_id, correction.user) == (interaction.id, ALEX)
    assert correction.text == "Oh joy, a meeting. Mail complaints to [email]"
    assert ws.ephemerals(user=ALEX, channel="C_GENERAL")[-1].text == THANKS
    assert [f.rating for f in await feedback(harness.store)] == [-1]


async def test_a_second_correction_by_the_same_person_replaces_the_first(harness):
    ws = harness.ws
    await _thumbs_down(harness)
    await _open_modal(harness)
    await ws.submit_view(user=ALEX, values=_values("first try"))
    await harness.idle()
    [offer, _] = ws.ephemerals(user=ALEX, channel="C_GENERAL")
    await ws.click_button(user=ALEX, action_id=SUGGEST_ACTION, channel="C_GENERAL", ts=offer.ts)
    await ws.submit_view(user=ALEX, values=_values("better second try"))
    await harness.idle()
    assert [c.text for c in await _corrections(harness)] == ["better second try"]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", EMPTY),
        ("   \n ", EMPTY),
        ("x" * (MAX_CORRECTION_CHARS + 1), "Keep it to 3,000 characters (this one has 3,001)."),
    ],
)
async def test_an_empty_or_too_long_correction_gets_an_inline_error_and_stores_nothing(
    harness, text, error
):
    ws = harness.ws
    await _thumbs_down(harness)
    await _open_modal(harness)
    answer = await ws.submit_view(user=ALEX, values=_values(text))
    await harness.idle()
    assert answer.payload == {"response_action": "errors", "errors": {CORRECTION_BLOCK: error}}
    assert ws.modal(ALEX) is not None  # still open, for another go
    assert ws.modal_errors(ALEX) == {CORRECTION_BLOCK: error}
    assert await _corrections(harness) == []
    fixed = await ws.submit_view(user=ALEX, values=_values("x" * MAX_CORRECTION_CHARS))
    await harness.idle()
    assert fixed.payload is None
    assert ws.modal(ALEX) is None
    assert len(await _corrections(harness)) == 1


async def test_a_correction_from_someone_who_opted_out_meanwhile_stores_nothing(harness):
    ws = harness.ws
    await _thumbs_down(harness)
    await _open_modal(harness)
    await harness.store.set_opt_out(user=ALEX, opted_out=True)
    await ws.submit_view(user=ALEX, values=_values("a much better reply"))
    await harness.idle()
    assert ws.modal(ALEX) is None
    assert await _corrections(harness) == []
    assert ws.ephemerals(user=ALEX, channel="C_GENERAL")[-1].text == OPTED_OUT


async def test_an_opted_out_person_is_told_why_instead_of_getting_the_modal(harness):
    ws = harness.ws
    await _thumbs_down(harness)
    await harness.store.set_opt_out(user=ALEX, opted_out=True)
    await _open_modal(harness)
    assert ws.modal(ALEX) is None
    assert ws.calls("views.open") == []
    assert ws.ephemerals(user=ALEX, channel="C_GENERAL")[-1].text == OPTED_OUT


async def test_an_opted_out_thumbs_down_stores_nothing_and_offers_nothing(harness):
    await harness.store.set_opt_out(user=ALEX, opted_out=True)
    await _thumbs_down(harness)
    assert await feedback(harness.store) == []
    assert harness.ws.ephemerals(user=ALEX) == []


async def test_thumbs_up_offers_nothing(harness):
    ws = harness.ws
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"{MENTION} love meetings")
    [reply] = await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", ts))
    await ws.add_reaction(user=ALEX, channel="C_GENERAL", ts=reply["ts"], name="+1")
    await harness.idle()
    assert ws.ephemerals(user=ALEX) == []


async def test_a_correction_for_a_forgotten_reply_says_so_and_stores_nothing(harness, caplog):
    ws = harness.ws
    await _thumbs_down(harness)
    await _open_modal(harness)
    await harness.store.forget_user(user=YOU)  # the prompt's author: the reply goes with them
    with caplog.at_level(logging.INFO):
        await ws.submit_view(user=ALEX, values=_values("a much better reply"))
        await harness.idle()
    assert "correction for a missing reply" in caplog.text
    assert await _corrections(harness) == []
    assert ws.ephemerals(user=ALEX, channel="C_GENERAL")[-1].text == GONE


async def test_an_expired_trigger_opens_no_modal_and_is_logged(harness, caplog):
    ws = harness.ws
    await _thumbs_down(harness)
    ws.trigger_ttl = 0.0
    with caplog.at_level(logging.ERROR):
        await _open_modal(harness)
    assert ws.modal(ALEX) is None
    assert [c.status for c in ws.calls("views.open")] == [200]
    assert "could not open the correction modal" in caplog.text


async def test_a_submission_the_store_cannot_take_keeps_the_modal_open_with_an_error(harness):
    """Stored before the ack: a store outage answers with an inline error, never a lost ack."""
    ws = harness.ws
    await _thumbs_down(harness)
    await _open_modal(harness)
    # Another process on the same store file, whose store is down when the modal is submitted.
    store = FaultySqliteStore(harness.root / "store.db")
    await store.open()
    harness.stores.append(store)
    bot = await start_bot(bot_settings(ws, harness.root), host=HOST, port=0, store=store)
    harness.bots.append(bot)
    ws.event_url = harness.url(1)
    store.broken = True
    answer = await ws.submit_view(user=ALEX, values=_values("Oh joy, a meeting."))
    assert answer.status == 200
    assert ws.modal(ALEX) is not None  # still open, to submit again
    assert ws.modal_errors(ALEX) == {CORRECTION_BLOCK: NOT_SAVED}
    store.broken = False
    assert await _corrections(harness) == []
    answer = await ws.submit_view(user=ALEX, values=_values("Oh joy, a meeting."))
    assert answer.status == 200
    await harness.idle()
    assert ws.modal(ALEX) is None
    [correction] = await _corrections(harness)
    assert correction.text == "Oh joy, a meeting."
    assert ws.ephemerals(user=ALEX, channel="C_GENERAL")[-1].text == THANKS
