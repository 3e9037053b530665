"""``response_url`` targets: where a command's or a click's later answers go.

A response URL accepts up to 5 POSTs within 30 minutes; each posts an ephemeral message
(default), an in-channel message, or replaces or deletes the message the click came from.
https://docs.slack.dev/interactivity/handling-user-interaction/#message_responses
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from bot.workspace.appkey import WORKSPACE
from bot.workspace.methods_chat import ME
from bot.workspace.model import JSON
from bot.workspace.state import ApiFailure

if TYPE_CHECKING:
    from bot.workspace.core import WorkspaceCore as Workspace

MAX_USES = 5
LIFETIME = 30 * 60.0


@dataclass
class ResponseTarget:
    """Who and where a response URL answers, and what message it may replace."""

    user: str
    channel: str
    created: float
    message_ts: str | None = None
    ephemeral: bool = False
    uses: int = 0


async def handle_response_url(request: web.Request) -> web.Response:
    """Apply one POST to a response URL."""
    ws: Workspace = request.app[WORKSPACE]
    target = ws.responses.get(request.match_info["key"])
    if target is None:
        return web.json_response({"ok": False, "error": "invalid_url"}, status=404)
    if target.uses >= MAX_USES or time.time() - target.created > LIFETIME:
        return web.json_response({"ok": False, "error": "expired_url"}, status=404)
    body = await _read_body(request)
    if body is None:
        return web.json_response({"ok": False, "error": "invalid_payload"}, status=400)
    target.uses += 1
    try:
        apply_response(ws, target, body)
    except ApiFailure as failure:
        return web.json_response({"ok": False, "error": failure.code}, status=400)
    return web.json_response({"ok": True})


def apply_response(ws: Workspace, target: ResponseTarget, body: JSON) -> None:
    """Post, replace or delete according to a response body (also used for command acks)."""
    text = body.get("text") if isinstance(body.get("text"), str) else ""
    blocks = body.get("blocks") if isinstance(body.get("blocks"), list) else None
    thread_ts = body.get("thread_ts") if isinstance(body.get("thread_ts"), str) else None
    if body.get("delete_original") in (True, "true"):
        _delete_original(ws, target)
        return
    if body.get("replace_original") in (True, "true") and target.message_ts:
        _replace_original(ws, target, str(text), blocks)
        return
    if not text and not blocks:
        raise ApiFailure("no_text")
    if body.get("response_type") == "in_channel":
        channel = ws.state.channels[target.channel]
        msg = ws.state.post(
            channel=channel, user=ME, text=str(text), blocks=blocks, thread_ts=thread_ts
        )
        ws.message_posted(msg)
        return
    ws.state.add_ephemeral(
        channel=target.channel, user=target.user, text=str(text), blocks=blocks, thread_ts=thread_ts
    )
    ws.changed(target.channel)


def _replace_original(
    ws: Workspace, target: ResponseTarget, text: str, blocks: list[JSON] | None
) -> None:
    if target.ephemeral:
        for eph in ws.state.ephemerals:
            if eph.ts == target.message_ts and eph.user == target.user:
                eph.text, eph.blocks = text, list(blocks or [])
    else:
        msg = ws.state.message(target.channel, target.message_ts)
        msg.text, msg.blocks = text, list(blocks or [])
        msg.edited_ts = ws.state.next_ts()
    ws.changed(target.channel)


def _delete_original(ws: Workspace, target: ResponseTarget) -> None:
    if target.ephemeral:
        ws.state.ephemerals = [
            e
            for e in ws.state.ephemerals
            if not (e.ts == target.message_ts and e.user == target.user)
        ]
    elif target.message_ts:
        msg = ws.state.message(target.channel, target.message_ts)
        del ws.state.messages[target.channel][msg.ts]
    ws.changed(target.channel)


async def _read_body(request: web.Request) -> JSON | None:
    raw = await request.text()
    if request.content_type == "application/x-www-form-urlencoded":
        form = await request.post()
        raw = str(form.get("payload", ""))
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def find_element(blocks: list[JSON], action_id: str) -> tuple[str, JSON] | None:
    """Return ``(block_id, element)`` for the interactive element with ``action_id``."""
    for block in blocks:
        elements = list(block.get("elements") or [])
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        for element in elements:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return str(block.get("block_id", "")), element
    return None
