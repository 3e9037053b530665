"""chat.startStream / appendStream / stopStream in the emulator, through the real slack_sdk.

What Slack refuses is refused here with Slack's codes, and open pages receive the growing text
over the page's event stream (``/_ws/stream``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.workspace import ALEX, BOT_USER_ID, YOU, Workspace
from bot.workspace.model import TEAM_ID

RECIPIENT: dict[str, Any] = {"recipient_team_id": TEAM_ID, "recipient_user_id": YOU}


async def _error(call: object) -> str:
    with pytest.raises(SlackApiError) as caught:
        await call  # type: ignore[misc]
    return str(caught.value.response["error"])


async def test_a_stream_grows_then_stops_with_blocks_and_metadata(
    ws: Workspace, client: AsyncWebClient
) -> None:
    parent = await ws.post_message(user=YOU, channel="C_GENERAL", text="is it Friday?")
    started = await client.chat_startStream(
        channel="C_GENERAL", thread_ts=parent, markdown_text="Oh, ", **RECIPIENT
    )
    ts = str(started["ts"])
    await client.chat_appendStream(channel="C_GENERAL", ts=ts, markdown_text="*sure*")
    assert ws.replies("C_GENERAL", parent)[0]["text"] == "Oh, *sure*"
    metadata = {"event_type": "sarcasm_bot_reply", "event_payload": {"interaction_id": "i1"}}
    button = {"type": "actions", "elements": [{"type": "button", "action_id": "a", "text": {
        "type": "plain_text", "text": "Try again"}}]}  # fmt: skip
    stopped = await client.chat_stopStream(
        channel="C_GENERAL",
        ts=ts,
        chunks=[{"type": "markdown_text", "text": ", it is."}],
        blocks=[button],
        metadata=metadata,
    )
    assert stopped["message"]["text"] == "Oh, *sure*, it is."
    [reply] = ws.replies("C_GENERAL", parent)
    assert (reply["ts"], reply["thread_ts"], reply["user"]) == (ts, parent, BOT_USER_ID)
    assert reply["metadata"] == metadata
    assert reply["blocks"] == [{"type": "markdown", "text": "Oh, *sure*, it is."}, button]


async def test_what_slack_refuses_is_refused(ws: Workspace, client: AsyncWebClient) -> None:
    parent = await ws.post_message(user=YOU, channel="C_GENERAL", text="hello")
    start = client.chat_startStream
    assert await _error(start(channel="C_GENERAL", thread_ts=parent)) == (
        "missing_recipient_team_id"
    )
    assert await _error(
        start(channel="C_GENERAL", thread_ts=parent, recipient_team_id=TEAM_ID)
    ) == ("missing_recipient_user_id")
    assert await _error(start(channel="C_GENERAL", thread_ts="", **RECIPIENT)) == (
        "invalid_arguments"
    )
    assert await _error(start(channel="C_GENERAL", thread_ts="soon", **RECIPIENT)) == (
        "invalid_thread_ts"
    )
    assert await _error(start(channel="C_NOPE", thread_ts=parent, **RECIPIENT)) == (
        "channel_not_found"
    )
    others: dict[str, Any] = {"recipient_team_id": "T_OTHER", "recipient_user_id": YOU}
    assert await _error(start(channel="C_GENERAL", thread_ts=parent, **others)) == (
        "team_not_found"
    )
    nobody: dict[str, Any] = {"recipient_team_id": TEAM_ID, "recipient_user_id": "U_NOBODY"}
    assert await _error(start(channel="C_GENERAL", thread_ts=parent, **nobody)) == (
        "user_not_found"
    )
    lonely = await ws.post_message(user=YOU, channel="C_WATERCOOLER", text="psst")
    assert await _error(start(channel="C_WATERCOOLER", thread_ts=lonely, **RECIPIENT)) == (
        "not_in_channel"
    )
    ts = str((await start(channel="C_GENERAL", thread_ts=parent, **RECIPIENT))["ts"])
    append = client.chat_appendStream
    assert await _error(append(channel="C_GENERAL", ts="1.000001", markdown_text="x")) == (
        "message_not_found"
    )
    assert await _error(append(channel="C_GENERAL", ts=ts)) == "no_text"
    assert await _error(append(channel="C_GENERAL", ts=ts, markdown_text="x" * 12_001)) == (
        "msg_too_long"
    )
    bad_chunks = [{"type": "poem", "text": "x"}]
    assert await _error(append(channel="C_GENERAL", ts=ts, chunks=bad_chunks)) == ("invalid_chunks")
    assert await _error(append(channel="C_GENERAL", ts=parent, markdown_text="x")) == (
        "message_not_owned_by_app"
    )
    await client.chat_stopStream(channel="C_GENERAL", ts=ts)
    assert await _error(append(channel="C_GENERAL", ts=ts, markdown_text="more")) == (
        "message_not_in_streaming_state"
    )
    assert await _error(client.chat_stopStream(channel="C_GENERAL", ts=ts)) == (
        "message_not_in_streaming_state"
    )
    reply = await client.chat_postMessage(channel="C_GENERAL", thread_ts=parent, text="plain")
    assert await _error(append(channel="C_GENERAL", ts=reply["ts"], markdown_text="x")) == (
        "message_not_in_streaming_state"
    )


async def test_a_dm_needs_no_recipient(ws: Workspace, client: AsyncWebClient) -> None:
    parent = await ws.post_message(user=ALEX, channel="D_ALEX", text="hi")
    started = await client.chat_startStream(channel="D_ALEX", thread_ts=parent, markdown_text="Hi.")
    await client.chat_stopStream(channel="D_ALEX", ts=started["ts"])
    assert [m["text"] for m in ws.replies("D_ALEX", parent)] == ["Hi."]


@pytest.fixture
async def page_events(ws: Workspace) -> AsyncIterator[aiohttp.StreamReader]:
    """Open the page's event stream, as the browser's EventSource does."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{ws.base_url}/_ws/stream") as resp,
    ):
        assert await resp.content.readline() == b"retry: 1000\n"
        yield resp.content


async def _next_stream(events: aiohttp.StreamReader) -> dict[str, object]:
    while True:
        line = (await events.readline()).decode()
        if line.startswith("data: "):
            change = json.loads(line[len("data: ") :])
            if "stream" in change:
                return dict(change["stream"])


async def test_the_page_receives_the_growing_text(
    ws: Workspace, client: AsyncWebClient, page_events: aiohttp.StreamReader
) -> None:
    parent = await ws.post_message(user=YOU, channel="C_GENERAL", text="status?")
    started = await client.chat_startStream(
        channel="C_GENERAL", thread_ts=parent, markdown_text="All", **RECIPIENT
    )
    for piece in (" systems", " nominal"):
        await client.chat_appendStream(channel="C_GENERAL", ts=started["ts"], markdown_text=piece)
    await client.chat_stopStream(channel="C_GENERAL", ts=started["ts"], markdown_text=".")
    seen = [await _next_stream(page_events) for _ in range(4)]
    assert [(s["text"], s["streaming"]) for s in seen] == [
        ("All", True),
        ("All systems", True),
        ("All systems nominal", True),
        ("All systems nominal.", False),
    ]
    assert {(s["ts"], s["thread_ts"], s["channel"]) for s in seen} == {
        (started["ts"], parent, "C_GENERAL")
    }
