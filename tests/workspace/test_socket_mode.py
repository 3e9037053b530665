"""Socket Mode through slack_sdk's real aiohttp SocketModeClient against the emulator."""

from __future__ import annotations

import asyncio

from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.workspace import BOT_USER_ID, YOU, Workspace


async def test_events_and_commands_over_socket_mode(ws: Workspace) -> None:
    seen: list[SocketModeRequest] = []
    web_client = AsyncWebClient(token=ws.bot_token, base_url=ws.api_url)
    client = SocketModeClient(app_token=ws.app_token, web_client=web_client)

    async def listener(socket: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        seen.append(req)
        payload = {"text": "pong"} if req.type == "slash_commands" else None
        await socket.send_socket_mode_response(
            SocketModeResponse(envelope_id=req.envelope_id, payload=payload)
        )

    client.socket_mode_request_listeners.append(listener)
    await client.connect()
    try:
        await ws.wait_for(lambda: ws.deliverer.socket_connected)
        ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"<@{BOT_USER_ID}> hi")
        reply = await ws.slash_command(user=YOU, channel="C_GENERAL", text="ping")
    finally:
        await client.close()
    kinds = sorted(r.type for r in seen)
    assert kinds == ["events_api", "events_api", "slash_commands"]
    events = [r.payload["event"] for r in seen if r.type == "events_api"]
    assert sorted(e["type"] for e in events) == ["app_mention", "message"]
    assert all(e["ts"] == ts for e in events)
    assert (reply.status, reply.transport) == (200, "socket")
    assert [e.text for e in ws.ephemerals(user=YOU)] == ["pong"]
    assert ws.calls("apps.connections.open")[0].ok


async def test_unacknowledged_envelope_times_out_and_retries_carry_attempts(ws: Workspace) -> None:
    seen: list[SocketModeRequest] = []
    web_client = AsyncWebClient(token=ws.bot_token, base_url=ws.api_url)
    client = SocketModeClient(app_token=ws.app_token, web_client=web_client)

    async def listener(socket: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        seen.append(req)
        if req.retry_attempt:  # acknowledge only the retry
            await socket.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))

    client.socket_mode_request_listeners.append(listener)
    await client.connect()
    try:
        await ws.wait_for(lambda: ws.deliverer.socket_connected)
        ws.deliverer.ack_timeout = 0.3
        await ws.post_message(user=YOU, channel="C_GENERAL", text="no mention")
        event_id = ws.events("message")[0]["event_id"]
        retry = await ws.redeliver(event_id, retry_num=1, reason="timeout")
        await asyncio.sleep(0)
    finally:
        await client.close()
    first = ws.deliveries("events_api")[0].replies[0]
    assert first.status == 0
    assert retry.status == 200
    assert [(r.retry_attempt, r.retry_reason) for r in seen] == [(0, ""), (1, "timeout")]
