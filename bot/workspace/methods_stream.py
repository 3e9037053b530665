"""Web API streaming methods: ``chat.startStream``, ``chat.appendStream``, ``chat.stopStream``.

As Slack documents them (https://docs.slack.dev/reference/methods/chat.startStream and its two
siblings; scope ``chat:write``): a stream is a thread reply (``thread_ts`` required); outside a
DM it needs ``recipient_team_id`` and ``recipient_user_id``; text comes as ``markdown_text``
(at most 12,000 characters a call) or ``markdown_text`` chunks; only the app that started a
stream may grow it, and a stopped stream takes nothing more. ``chat.stopStream`` may add
``blocks`` below the text and ``metadata``. Each change is announced to open pages with the
text so far, so the page renders the reply as it grows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.workspace.methods_chat import ME, TS, resolve_channel
from bot.workspace.model import JSON, TEAM_ID, Message
from bot.workspace.params import Params
from bot.workspace.state import ApiFailure

if TYPE_CHECKING:
    from bot.workspace.core import WorkspaceCore as Workspace

# Chunk types Slack streams besides text; they carry no message text, so they add none here.
OTHER_CHUNKS = frozenset({"task_update", "plan_update", "blocks"})


async def chat_start_stream(ws: Workspace, p: Params) -> JSON:
    """Start a streamed reply in a thread, addressed to one person outside a DM."""
    channel = resolve_channel(ws, p.required("channel", "channel_not_found"))
    thread_ts = p.required("thread_ts")
    if not TS.match(thread_ts):
        raise ApiFailure("invalid_thread_ts")
    if not channel.is_im:
        team = p.required("recipient_team_id", "missing_recipient_team_id")
        user = p.required("recipient_user_id", "missing_recipient_user_id")
        if team != TEAM_ID:
            raise ApiFailure("team_not_found")
        ws.state.user(user)
    if ME not in channel.members:
        raise ApiFailure("not_in_channel")
    text = _markdown(p, required=False)
    msg = ws.state.post(channel=channel, user=ME, text="", thread_ts=thread_ts)
    msg.streaming = True
    ws.state.grow_stream(msg, by=ME, text=text, stop=False)
    ws.message_posted(msg)
    _announce(ws, msg)
    return {"channel": channel.id, "ts": msg.ts}


async def chat_append_stream(ws: Workspace, p: Params) -> JSON:
    """Append text to a stream this app started and has not stopped."""
    msg = _stream_message(ws, p)
    ws.state.grow_stream(msg, by=ME, text=_markdown(p, required=True), stop=False)
    _announce(ws, msg)
    return {"channel": msg.channel, "ts": msg.ts}


async def chat_stop_stream(ws: Workspace, p: Params) -> JSON:
    """Finish a stream: the last text, blocks below it, and metadata."""
    msg = _stream_message(ws, p)
    blocks, metadata = p.blocks(), p.metadata()
    ws.state.grow_stream(msg, by=ME, text=_markdown(p, required=False), blocks=blocks, stop=True)
    msg.metadata = metadata
    _announce(ws, msg)
    return {"channel": msg.channel, "ts": msg.ts, "message": ws.state.message_json(msg)}


def _stream_message(ws: Workspace, p: Params) -> Message:
    channel = resolve_channel(ws, p.required("channel", "channel_not_found"))
    return ws.state.message(channel.id, p.required("ts", "message_not_found"))


def _markdown(p: Params, *, required: bool) -> str:
    """Return the call's text: ``markdown_text`` then any ``markdown_text`` chunks."""
    text = p.text("markdown_text", "") or ""
    chunks = p.structured("chunks", "invalid_chunks")
    if chunks is not None:
        if not isinstance(chunks, list):
            raise ApiFailure("invalid_chunks")
        for chunk in chunks:
            kind = chunk.get("type") if isinstance(chunk, dict) else None
            if kind == "markdown_text" and isinstance(chunk.get("text"), str):
                text += chunk["text"]
            elif kind not in OTHER_CHUNKS:
                raise ApiFailure("invalid_chunks")
    if required and not text and not chunks:
        raise ApiFailure("no_text")
    return text


def _announce(ws: Workspace, msg: Message) -> None:
    ws.announce(
        {
            "scope": msg.channel,
            "stream": {
                "channel": msg.channel,
                "ts": msg.ts,
                "thread_ts": msg.thread_ts,
                "text": msg.text,
                "streaming": msg.streaming,
            },
        }
    )
