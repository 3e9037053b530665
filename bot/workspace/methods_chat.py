"""Web API methods on messages: ``chat.*``, ``reactions.*`` and ``conversations.*``.

Each method takes the workspace and the caller's :class:`Params` and returns the response body
without ``ok``; refusals raise :class:`ApiFailure` with Slack's error code.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bot.workspace.model import BOT_USER_ID, JSON, Channel
from bot.workspace.params import Params
from bot.workspace.payloads import build_subtype_event
from bot.workspace.state import ApiFailure

if TYPE_CHECKING:
    from bot.workspace.core import WorkspaceCore as Workspace

ME = BOT_USER_ID  # every token the emulator issues for the Web API is the bot's
TS = re.compile(r"^\d{1,12}\.\d{1,6}$")
REACTION_NAME = re.compile(r"^[a-z0-9_+'-]+(::skin-tone-[2-6])?$")
# Slack stores some emoji under a canonical name whatever alias the caller used.
REACTION_ALIASES = {"thumbsup": "+1", "thumbsdown": "-1", "facepalm": "face_palm"}


def thread_ts(p: Params) -> str | None:
    """Return ``thread_ts`` if given; a malformed one (``""``, ``"0"``) is ``invalid_thread_ts``."""
    raw = p.values.get("thread_ts")
    if raw is None:
        return None
    if not TS.match(str(raw)):
        raise ApiFailure("invalid_thread_ts")
    return str(raw)


def resolve_channel(ws: Workspace, raw: str | None) -> Channel:
    """Find a channel by id, ``#name``, name, or a user id (their DM with the bot)."""
    if raw and raw in ws.state.users:
        dm = next((c for c in ws.state.channels.values() if c.is_im and raw in c.members), None)
        if dm is not None and ME in dm.members:
            return dm
    if raw and raw not in ws.state.channels:
        name = raw.lstrip("#")
        for chan in ws.state.channels.values():
            if chan.name == name and not chan.is_im:
                return ws.state.channel(chan.id, viewer=ME)
    return ws.state.channel(raw, viewer=ME)


async def chat_post_message(ws: Workspace, p: Params) -> JSON:
    """Post a message (or a thread reply) as the bot."""
    channel = resolve_channel(ws, p.required("channel", "channel_not_found"))
    text, blocks = p.text("text", "") or "", p.blocks()
    if not text and not blocks and not p.structured("attachments"):
        raise ApiFailure("no_text")
    metadata = p.metadata()
    if ME not in channel.members:
        raise ApiFailure("not_in_channel")
    msg = ws.state.post(
        channel=channel,
        user=ME,
        text=text,
        blocks=blocks,
        thread_ts=thread_ts(p),
        metadata=metadata,
    )
    ws.message_posted(msg)
    # Slack echoes the posted message with its metadata.
    return {
        "channel": channel.id,
        "ts": msg.ts,
        "message": ws.state.message_json(msg, metadata=True),
    }


async def chat_post_ephemeral(ws: Workspace, p: Params) -> JSON:
    """Show a message to one user in a channel."""
    channel = resolve_channel(ws, p.required("channel", "channel_not_found"))
    user = ws.state.user(p.required("user", "user_not_found"))
    text, blocks = p.text("text", "") or "", p.blocks()
    if not text and not blocks:
        raise ApiFailure("no_text")
    if ME not in channel.members:
        raise ApiFailure("not_in_channel")
    if user.id not in channel.members:
        raise ApiFailure("user_not_in_channel")
    eph = ws.state.add_ephemeral(
        channel=channel.id, user=user.id, text=text, blocks=blocks, thread_ts=thread_ts(p)
    )
    ws.changed(channel.id)
    return {"message_ts": eph.ts}


async def chat_update(ws: Workspace, p: Params) -> JSON:
    """Edit one of the bot's messages."""
    channel = resolve_channel(ws, p.required("channel", "channel_not_found"))
    msg = ws.state.message(channel.id, p.required("ts", "message_not_found"))
    before = ws.state.message_json(msg)
    text, blocks = p.text("text"), p.blocks()
    if text is None and blocks is None:
        raise ApiFailure("no_text")
    ws.state.update(msg, by=ME, text=text, blocks=blocks)
    after = ws.state.message_json(msg)
    ws.emit(
        build_subtype_event(
            "message_changed",
            channel=channel,
            ts=msg.edited_ts or msg.ts,
            message=after,
            previous_message=before,
        )
    )
    ws.changed(channel.id)
    return {"channel": channel.id, "ts": msg.ts, "text": msg.text, "message": after}


async def chat_delete(ws: Workspace, p: Params) -> JSON:
    """Delete one of the bot's messages."""
    channel = resolve_channel(ws, p.required("channel", "channel_not_found"))
    msg = ws.state.message(channel.id, p.required("ts", "message_not_found"))
    before = ws.state.message_json(msg)
    ws.state.delete(msg, by=ME)
    ws.emit(
        build_subtype_event(
            "message_deleted",
            channel=channel,
            ts=ws.state.next_ts(),
            deleted_ts=msg.ts,
            previous_message=before,
        )
    )
    ws.changed(channel.id)
    return {"channel": channel.id, "ts": msg.ts}


async def chat_get_permalink(ws: Workspace, p: Params) -> JSON:
    """Return a link to a message on the emulator's page."""
    channel = resolve_channel(ws, p.required("channel", "channel_not_found"))
    msg = ws.state.message(channel.id, p.required("message_ts", "message_not_found"))
    return {"channel": channel.id, "permalink": f"{ws.base_url}/#/{channel.id}/{msg.ts}"}


def reaction_name(p: Params) -> str:
    """Return the canonical emoji name, or raise ``invalid_name``."""
    name = (p.text("name") or "").strip(":")
    if not REACTION_NAME.match(name):
        raise ApiFailure("invalid_name")
    base, _, tone = name.partition("::")
    base = REACTION_ALIASES.get(base, base)
    return f"{base}::{tone}" if tone else base


async def reactions_add(ws: Workspace, p: Params) -> JSON:
    """Add the bot's reaction to a message."""
    channel = resolve_channel(ws, p.required("channel", "channel_not_found"))
    msg = ws.state.message(channel.id, p.required("timestamp", "message_not_found"))
    name = reaction_name(p)
    await ws.react(msg, user=ME, name=name, wait=False)
    return {}


async def reactions_remove(ws: Workspace, p: Params) -> JSON:
    """Remove the bot's reaction from a message."""
    channel = resolve_channel(ws, p.required("channel", "channel_not_found"))
    msg = ws.state.message(channel.id, p.required("timestamp", "message_not_found"))
    await ws.unreact(msg, user=ME, name=reaction_name(p), wait=False)
    return {}


async def reactions_get(ws: Workspace, p: Params) -> JSON:
    """Return a message with its reactions."""
    channel = resolve_channel(ws, p.required("channel", "channel_not_found"))
    msg = ws.state.message(channel.id, p.required("timestamp", "message_not_found"))
    return {"type": "message", "channel": channel.id, "message": ws.state.message_json(msg)}


def _page(p: Params, items: list[JSON]) -> JSON:
    limit = p.integer("limit", 100, low=1, high=1000)
    try:
        start = int(p.text("cursor", "0") or "0")
    except ValueError:
        raise ApiFailure("invalid_cursor") from None
    if start < 0:
        raise ApiFailure("invalid_cursor")
    page = items[start : start + limit]
    more = start + limit < len(items)
    return {
        "messages": page,
        "has_more": more,
        "response_metadata": {"next_cursor": str(start + limit) if more else ""},
    }


def _window(p: Params, msgs: list[JSON]) -> list[JSON]:
    try:
        oldest = float(p.text("oldest", "0") or "0")
        latest = float(p.text("latest", "inf") or "inf")
    except ValueError:
        raise ApiFailure("invalid_ts_oldest") from None
    inclusive = p.flag("inclusive")

    def keep(ts: float) -> bool:
        return (oldest <= ts <= latest) if inclusive else (oldest < ts < latest)

    return [m for m in msgs if keep(float(m["ts"]))]


async def conversations_history(ws: Workspace, p: Params) -> JSON:
    """Return a channel's top-level messages, newest first."""
    channel = resolve_channel(ws, p.required("channel", "channel_not_found"))
    if ME not in channel.members:
        raise ApiFailure("not_in_channel")
    meta = p.flag("include_all_metadata")
    top = reversed(ws.state.top_level(channel.id))
    msgs = [ws.state.message_json(m, metadata=meta) for m in top]
    return {**_page(p, _window(p, msgs)), "pin_count": 0, "channel_actions_count": 0}


async def conversations_replies(ws: Workspace, p: Params) -> JSON:
    """Return a thread: its parent first, then replies oldest first."""
    channel = resolve_channel(ws, p.required("channel", "channel_not_found"))
    if ME not in channel.members:
        raise ApiFailure("not_in_channel")
    ts = p.required("ts", "thread_not_found")
    if ts not in ws.state.messages[channel.id]:
        raise ApiFailure("thread_not_found")
    meta = p.flag("include_all_metadata")
    msgs = [ws.state.message_json(m, metadata=meta) for m in ws.state.thread(channel.id, ts)]
    return _page(p, msgs)


async def conversations_info(ws: Workspace, p: Params) -> JSON:
    """Return a channel's details."""
    channel = resolve_channel(ws, p.required("channel", "channel_not_found"))
    return {"channel": channel.to_api(viewer=ME)}


async def conversations_list(ws: Workspace, p: Params) -> JSON:
    """Return the channels the bot can see."""
    kinds = set((p.text("types") or "public_channel").split(","))
    chans = []
    for chan in ws.state.channels.values():
        kind = "im" if chan.is_im else ("private_channel" if chan.is_private else "public_channel")
        if kind in kinds and (kind == "public_channel" or ME in chan.members):
            chans.append(chan.to_api(viewer=ME))
    return {"channels": chans, "response_metadata": {"next_cursor": ""}}
