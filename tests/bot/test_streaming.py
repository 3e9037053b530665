"""stream_reply against the emulated Slack: how a streamed reply ends, whatever happens.

The model is a plain async generator standing in for the server's stream; Slack is the
emulator, called through slack_sdk's real client.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.replying.posts import PostUncertain, post_metadata
from bot.replying.streaming import (
    BROKE_OFF,
    STOPPED,
    NothingStreamed,
    Streamed,
    Target,
    find_streamed,
    stream_reply,
)
from bot.workspace import YOU, Workspace
from bot.workspace.model import TEAM_ID
from tuning.errors import ModelError

METADATA = post_metadata("item-1", part="0")


@pytest.fixture
async def ws() -> AsyncIterator[Workspace]:
    async with Workspace() as workspace:
        yield workspace


@pytest.fixture
async def target(ws: Workspace) -> Target:
    parent = await ws.post_message(user=YOU, channel="C_GENERAL", text="is it Friday?")
    return Target("C_GENERAL", parent, TEAM_ID, YOU, parent)


@pytest.fixture
def client(ws: Workspace) -> AsyncWebClient:
    return AsyncWebClient(token=ws.bot_token, base_url=ws.api_url)


async def pieces(
    texts: Iterable[str], *, then: BaseException | None = None, hang: asyncio.Event | None = None
) -> AsyncGenerator[str, None]:
    for text in texts:
        yield text
    if hang is not None:
        await hang.wait()
    if then is not None:
        raise then


class Ticking:
    """A clock a second further on at every reading: every piece is appended at once."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


async def run(
    client: AsyncWebClient, model: AsyncGenerator[str, None], target: Target, seconds: float = 5
) -> Streamed:
    return await stream_reply(
        client, model, target, metadata=METADATA, blocks=[], piece_seconds=seconds, clock=Ticking()
    )


def reply(ws: Workspace, target: Target) -> dict[str, Any]:
    [only] = ws.replies(target.channel, target.thread_ts)
    return only


async def test_a_whole_reply_is_appended_piece_by_piece_and_stopped_with_metadata(
    ws: Workspace, client: AsyncWebClient, target: Target
) -> None:
    streamed = await run(client, pieces(["Oh", ", ", "joy", "."]), target)
    assert (streamed.text, streamed.complete) == ("Oh, joy.", True)
    assert [c.params["markdown_text"] for c in ws.calls("chat.appendStream")] == [", ", "joy", "."]
    assert reply(ws, target)["metadata"] == METADATA
    assert await find_streamed(client, target, metadata=METADATA) == streamed


async def test_a_rate_limited_append_keeps_its_text_for_the_next_call(
    ws: Workspace, client: AsyncWebClient, target: Target
) -> None:
    ws.fail_next("chat.appendStream", status=429)
    streamed = await run(client, pieces(["Oh", ", ", "joy", "."]), target)
    assert streamed.complete
    assert [c.status for c in ws.calls("chat.appendStream")] == [429, 200, 200]
    assert reply(ws, target)["text"] == "Oh, joy."


async def test_a_model_that_breaks_off_is_ended_with_a_note(
    ws: Workspace, client: AsyncWebClient, target: Target
) -> None:
    model = pieces(["Oh", ", sure"], then=ModelError("cut"))
    streamed = await run(client, model, target)
    assert not streamed.complete
    shown = reply(ws, target)
    assert shown["text"] == "Oh, sure" + BROKE_OFF
    assert "metadata" not in shown
    assert await find_streamed(client, target, metadata=METADATA) is None


async def test_a_silent_model_times_out_and_the_stream_is_ended(
    ws: Workspace, client: AsyncWebClient, target: Target
) -> None:
    streamed = await run(client, pieces(["Oh"], hang=asyncio.Event()), target, seconds=0.05)
    assert not streamed.complete
    assert reply(ws, target)["text"] == "Oh" + BROKE_OFF
    with pytest.raises(SlackApiError, match="message_not_in_streaming_state"):
        await client.chat_appendStream(channel=target.channel, ts=streamed.ts, markdown_text="x")


async def test_a_worker_stopping_mid_reply_ends_the_stream_then_stops(
    ws: Workspace, client: AsyncWebClient, target: Target
) -> None:
    task = asyncio.create_task(run(client, pieces(["Oh", " no"], hang=asyncio.Event()), target))
    await ws.wait_for(lambda: ws.calls("chat.appendStream"))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert reply(ws, target)["text"] == "Oh no" + STOPPED
    assert [c.ok for c in ws.calls("chat.stopStream")] == [True]


async def test_nothing_is_started_when_the_model_fails_before_its_first_word(
    ws: Workspace, client: AsyncWebClient, target: Target
) -> None:
    with pytest.raises(NothingStreamed):
        await run(client, pieces([], then=ModelError("down")), target)
    with pytest.raises(NothingStreamed):
        await run(client, pieces([]), target)
    assert ws.calls("chat.startStream") == []
    assert ws.replies(target.channel, target.thread_ts) == []


async def test_a_stop_whose_answer_was_lost_is_uncertain_and_found_later(
    ws: Workspace, client: AsyncWebClient, target: Target
) -> None:
    ws.fail_next("chat.stopStream", status=500, after_apply=True)
    with pytest.raises(PostUncertain):
        await run(client, pieces(["Oh", ", joy."]), target)
    found = await find_streamed(client, target, metadata=METADATA)
    assert found is not None
    assert found.text == "Oh, joy."
