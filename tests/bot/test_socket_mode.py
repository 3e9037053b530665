"""Socket Mode through Bolt's real aiohttp SocketModeHandler against the workspace's websocket."""

from bot.transports.socket_mode import SocketModeTransport
from bot.workspace import BOT_USER_ID, YOU
from tests.harness import Harness, bot_replies, stored


async def test_mention_over_socket_mode_gets_one_reply(harness: Harness) -> None:
    ws = harness.ws
    ws.event_url = None  # no HTTP delivery: only the socket can carry events now
    bot = await harness.add_bot(SLACK_APP_TOKEN=ws.app_token)
    assert isinstance(bot.transport, SocketModeTransport)
    await ws.wait_for(lambda: ws.deliverer.socket_connected)
    assert ws.calls("apps.connections.open")
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"<@{BOT_USER_ID}> sockets!")
    assert {r.transport for d in ws.deliveries("events_api") for r in d.replies} == {"socket"}
    [reply] = await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", ts))
    await harness.idle()
    assert reply["thread_ts"] == ts
    assert len(await stored(bot.services.store, "generate")) == 1
    await ws.add_reaction(user=YOU, channel="C_GENERAL", ts=reply["ts"], name="thumbsup")
    await harness.idle()
    assert [f.rating async for f in bot.services.store.iter_feedback()] == [1]
