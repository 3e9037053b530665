"""One reply per message across retries, duplicate event types and two app instances."""

import asyncio

from bot.workspace import BOT_USER_ID, YOU
from tests.harness import bot_replies, post_signed, stored
from tuning.records import ChannelSettings

MENTION = f"<@{BOT_USER_ID}>"


async def test_mention_arrives_as_app_mention_and_message_but_gets_one_reply(harness):
    ws = harness.ws
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"{MENTION} hi there")
    types = sorted(e["event"]["type"] for e in ws.events() if e["event"].get("ts") == ts)
    assert types == ["app_mention", "message"]
    await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", ts))
    await harness.idle()
    assert len(bot_replies(ws, "C_GENERAL", ts)) == 1


async def test_retried_deliveries_still_get_one_reply(harness):
    ws, store = harness.ws, harness.bot.services.store
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"{MENTION} again?")
    for event in ws.events():
        for retry in (1, 2, 3):
            reply = await ws.redeliver(event["event_id"], retry_num=retry)
            assert reply.status == 200
    await harness.idle()
    assert len(bot_replies(ws, "C_GENERAL", ts)) == 1
    assert len(await stored(store)) == 1


async def test_retried_flag_is_flagged_once(harness):
    ws, store = harness.ws, harness.bot.services.store
    await store.put_channel_settings(
        ChannelSettings(channel="C_GENERAL", threshold=0.0, mode="reply")
    )
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text="Oh sure, great plan.")
    await ws.redeliver(ws.events("message")[0]["event_id"], retry_num=1)
    await harness.idle()
    assert len(bot_replies(ws, "C_GENERAL", ts)) == 1
    assert len(await stored(store, "classify")) == 1


async def test_two_app_instances_on_one_store_reply_once(harness):
    ws = harness.ws
    second = await harness.add_bot()
    assert second.services.store is not harness.bot.services.store  # two connections, one file
    urls = [harness.url(0), harness.url(1)]
    ws.event_url = None  # deliver by hand, to both instances at once
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"{MENTION} who answers?")
    envelopes = [e for e in ws.events() if e["event"].get("ts") == ts]
    assert len(envelopes) == 2
    # Every delivery (both event types, plus a retry) hits both instances concurrently.
    sends = [post_signed(url, env) for env in envelopes for url in urls]
    sends += [post_signed(url, env, retry_num=1) for env in envelopes for url in urls]
    statuses = [status for status, _, _ in await asyncio.gather(*sends)]
    assert statuses == [200] * len(sends)
    await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", ts))
    await harness.idle()
    assert len(bot_replies(ws, "C_GENERAL", ts)) == 1
    assert len(await stored(harness.bot.services.store)) == 1
