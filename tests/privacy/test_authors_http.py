"""Each stored text names its writer, apart from whoever made the bot store it (issue 13).

Forget-me deletes by author, so these are what make a prompt stored by another person's click,
or a thread's first message fetched for a bare mention, findable.
"""

from bot.views.replies import TRY_AGAIN_ACTION
from bot.workspace import ALEX, BOT_USER_ID, YOU
from tests.harness import bot_replies, stored

MENTION = f"<@{BOT_USER_ID}>"


async def test_try_again_pressed_by_someone_else_keeps_the_prompts_author(harness):
    ws, store = harness.ws, harness.store
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"{MENTION} mondays, right")
    [first] = await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", ts))
    await harness.idle()
    await ws.click_button(
        user=ALEX, action_id=TRY_AGAIN_ACTION, channel="C_GENERAL", ts=first["ts"]
    )
    await ws.wait_for(lambda: len(bot_replies(ws, "C_GENERAL", ts)) == 2)
    await harness.idle()
    parent, retry = sorted(await stored(store, "generate"), key=lambda i: i.created_at)
    assert (parent.author, parent.user) == (YOU, YOU)
    assert (retry.author, retry.user) == (YOU, ALEX)
    erased = await store.forget_user(user=YOU)
    assert {parent.id, retry.id} <= erased.record_ids
    assert await stored(store, "generate") == []


async def test_a_bare_mention_stores_the_thread_parent_under_its_writer(harness):
    ws, store = harness.ws, harness.store
    parent = await ws.post_message(
        user=ALEX, channel="C_GENERAL", text="I just love when the build breaks at 5pm"
    )
    await ws.post_message(user=YOU, channel="C_GENERAL", text=MENTION, thread_ts=parent)
    await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", parent))
    await harness.idle()
    [interaction] = await stored(store, "generate")
    assert (interaction.author, interaction.user) == (ALEX, YOU)
    # Forgetting the mentioner keeps Alex's text, with the link to the mentioner cleared.
    await store.forget_user(user=YOU)
    [kept] = await stored(store, "generate")
    assert (kept.author, kept.user) == (ALEX, "")
    await store.forget_user(user=ALEX)
    assert await stored(store, "generate") == []


async def test_a_thread_parent_whose_writer_opted_out_is_answered_but_not_stored(harness):
    ws, store = harness.ws, harness.store
    await store.set_opt_out(user=ALEX, opted_out=True)
    parent = await ws.post_message(user=ALEX, channel="C_GENERAL", text="Oh good, more meetings")
    await ws.post_message(user=YOU, channel="C_GENERAL", text=MENTION, thread_ts=parent)
    [reply] = await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", parent))
    assert reply["text"].strip()
    await harness.idle()
    assert await stored(store) == []
