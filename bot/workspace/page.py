"""The web page's routes: static files, a JSON view of the workspace, user actions and SSE.

The page acts as a person through the same control API the tests use, so what a click does in
the browser is exactly what ``await ws.post_message(...)`` does in a test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.workspace.appkey import WORKSPACE
from bot.workspace.delivery import Reply
from bot.workspace.model import JSON, YOU, Ephemeral
from bot.workspace.state import ApiFailure

if TYPE_CHECKING:
    from bot.workspace.emulator import Workspace

STATIC = Path(__file__).parent / "static"
KEEPALIVE = 15.0


def add_routes(app: web.Application) -> None:
    """Register the page's routes on the emulator's application."""
    app.router.add_get("/", _index)
    app.router.add_static("/static/", STATIC)
    app.router.add_get("/_ws/state", _state)
    app.router.add_get("/_ws/thread", _thread)
    app.router.add_get("/_ws/home", _home)
    app.router.add_get("/_ws/stream", _stream)
    app.router.add_post("/_ws/post", _post)
    app.router.add_post("/_ws/react", _react)
    app.router.add_post("/_ws/command", _command)
    app.router.add_post("/_ws/home/open", _open_home)
    app.router.add_post("/_ws/action", _action)
    app.router.add_post("/_ws/submit", _submit)
    app.router.add_post("/_ws/close", _close)


def _ws(request: web.Request) -> Workspace:
    workspace: Workspace = request.app[WORKSPACE]
    return workspace


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


def _viewer(request: web.Request) -> str:
    user = request.query.get("user", YOU)
    if user not in _ws(request).state.users:
        raise web.HTTPBadRequest(text="unknown user")
    return user


def _ephemeral_json(eph: Ephemeral) -> JSON:
    return {
        "ts": eph.ts,
        "text": eph.text,
        "blocks": eph.blocks,
        "thread_ts": eph.thread_ts,
        "user": eph.sender,
        "ephemeral": True,
    }


async def _state(request: web.Request) -> web.Response:
    ws, user = _ws(request), _viewer(request)
    channels = [
        {
            "id": c.id,
            "name": c.name,
            "is_private": c.is_private,
            "is_im": c.is_im,
            "member": user in c.members,
            "topic": c.topic,
        }
        for c in ws.state.channels.values()
        if (not c.is_private and not c.is_im) or user in c.members
    ]
    users = [
        {
            "id": u.id,
            "name": u.name,
            "real_name": u.real_name,
            "color": u.color,
            "is_admin": u.is_admin,
            "is_bot": u.is_bot,
        }
        for u in ws.state.users.values()
    ]
    body: JSON = {"me": user, "users": users, "channels": channels, "app_connected": _connected(ws)}
    channel = request.query.get("channel")
    if channel in ws.state.channels and any(c["id"] == channel for c in channels):
        body["messages"] = ws.messages(channel)
        body["ephemerals"] = [
            _ephemeral_json(e) for e in ws.ephemerals(user=user, channel=channel) if not e.thread_ts
        ]
    return web.json_response(body)


def _connected(ws: Workspace) -> bool:
    return ws.deliverer.socket_connected or bool(ws.event_url)


async def _thread(request: web.Request) -> web.Response:
    ws, user = _ws(request), _viewer(request)
    channel, ts = request.query.get("channel", ""), request.query.get("ts", "")
    msgs = ws.state.messages.get(channel, {})
    if ts not in msgs:
        return web.json_response({"parent": None, "replies": [], "ephemerals": []})
    thread = [ws.state.message_json(m) for m in ws.state.thread(channel, ts)]
    root = thread[0]["ts"]
    ephs = [_ephemeral_json(e) for e in ws.ephemerals(user=user, channel=channel)]
    return web.json_response(
        {
            "parent": thread[0],
            "replies": thread[1:],
            "ephemerals": [e for e in ephs if e["thread_ts"] == root],
        }
    )


async def _home(request: web.Request) -> web.Response:
    ws, user = _ws(request), _viewer(request)
    return web.json_response(
        {"view": ws.home_view(user), "modal": ws.modal(user), "errors": ws.modal_errors(user)}
    )


async def _body(request: web.Request) -> JSON:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="JSON body required") from None
    if not isinstance(body, dict) or body.get("user") not in _ws(request).state.users:
        raise web.HTTPBadRequest(text="a known user is required")
    return body


def _fail(failure: ApiFailure) -> web.Response:
    return web.json_response({"ok": False, "error": failure.code}, status=400)


def _replied(reply: Reply, **extra: Any) -> web.Response:
    """Answer the page with whether the app acknowledged what it was sent."""
    if reply.status == 200:
        return web.json_response({"ok": True, **extra})
    why = (
        "sarcasm-bot is not connected"
        if reply.transport == "none"
        else "sarcasm-bot did not answer"
    )
    return web.json_response({"ok": False, "error": why, "status": reply.status, **extra})


async def _post(request: web.Request) -> web.Response:
    body, ws = await _body(request), _ws(request)
    try:
        ts = await ws.post_message(
            user=body["user"],
            channel=str(body.get("channel")),
            text=str(body.get("text", "")),
            thread_ts=body.get("thread_ts") or None,
        )
    except ApiFailure as failure:
        return _fail(failure)
    return web.json_response({"ok": True, "ts": ts})


async def _react(request: web.Request) -> web.Response:
    body, ws = await _body(request), _ws(request)
    channel, ts, name = str(body.get("channel")), str(body.get("ts")), str(body.get("name"))
    try:
        if body["user"] in ws.reactions(channel, ts).get(name, []):
            await ws.remove_reaction(user=body["user"], channel=channel, ts=ts, name=name)
        else:
            await ws.add_reaction(user=body["user"], channel=channel, ts=ts, name=name)
    except ApiFailure as failure:
        return _fail(failure)
    return web.json_response({"ok": True})


async def _command(request: web.Request) -> web.Response:
    body, ws = await _body(request), _ws(request)
    line = str(body.get("text", "")).strip()
    command, _, text = line.partition(" ")
    if not command.startswith("/"):
        return web.json_response({"ok": False, "error": "not a command"}, status=400)
    try:
        reply = await ws.slash_command(
            user=body["user"], channel=str(body.get("channel")), text=text.strip(), command=command
        )
    except ApiFailure as failure:
        return _fail(failure)
    return _replied(reply)


async def _open_home(request: web.Request) -> web.Response:
    body, ws = await _body(request), _ws(request)
    return _replied(await ws.open_home(user=body["user"]))


async def _action(request: web.Request) -> web.Response:
    body, ws = await _body(request), _ws(request)
    try:
        reply = await ws.click_button(
            user=body["user"],
            action_id=str(body.get("action_id")),
            value=body.get("value"),
            channel=body.get("channel") or None,
            ts=body.get("ts") or None,
        )
    except (ApiFailure, LookupError) as exc:
        return web.json_response({"ok": False, "error": str(exc)}, status=400)
    return _replied(reply)


async def _submit(request: web.Request) -> web.Response:
    body, ws = await _body(request), _ws(request)
    values = body.get("values") if isinstance(body.get("values"), dict) else {}
    try:
        reply = await ws.submit_view(user=body["user"], values=values)
    except LookupError as exc:
        return web.json_response({"ok": False, "error": str(exc)}, status=400)
    return _replied(reply, response=reply.payload)


async def _close(request: web.Request) -> web.Response:
    body, ws = await _body(request), _ws(request)
    ws.close_view(user=body["user"])
    return web.json_response({"ok": True})


async def _stream(request: web.Request) -> web.StreamResponse:
    ws = _ws(request)
    resp = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await resp.prepare(request)
    queue = ws.listen()
    try:
        await resp.write(b"retry: 1000\n\n")
        while True:
            try:
                change = await asyncio.wait_for(queue.get(), KEEPALIVE)
            except TimeoutError:
                await resp.write(b": keepalive\n\n")
                continue
            if not change:
                break
            await resp.write(f"data: {json.dumps(change)}\n\n".encode())
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        ws.unlisten(queue)
        with contextlib.suppress(
            Exception
        ):  # the browser left; its event stream has nothing to close
            await resp.write_eof()
    return resp
