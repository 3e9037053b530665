"""The Web API's HTTP edge: ``/api/<method>``, token checks, injected failures and call records.

Slack answers almost every refusal with HTTP 200 and ``{"ok": false, "error": code}``; only rate
limits (429 with ``Retry-After``) and server trouble (5xx) use other statuses.
https://docs.slack.dev/apis/web-api/#responses
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.workspace import methods_chat as chat
from bot.workspace import methods_misc as misc
from bot.workspace import methods_stream as stream
from bot.workspace.appkey import WORKSPACE
from bot.workspace.model import JSON
from bot.workspace.params import Params
from bot.workspace.state import ApiFailure

if TYPE_CHECKING:
    from bot.workspace.core import WorkspaceCore as Workspace

log = logging.getLogger(__name__)
Method = Callable[["Workspace", Params], Awaitable[JSON]]

METHODS: dict[str, Method] = {
    "auth.test": misc.auth_test,
    "chat.postMessage": chat.chat_post_message,
    "chat.postEphemeral": chat.chat_post_ephemeral,
    "chat.update": chat.chat_update,
    "chat.delete": chat.chat_delete,
    "chat.getPermalink": chat.chat_get_permalink,
    "chat.startStream": stream.chat_start_stream,
    "chat.appendStream": stream.chat_append_stream,
    "chat.stopStream": stream.chat_stop_stream,
    "reactions.add": chat.reactions_add,
    "reactions.remove": chat.reactions_remove,
    "reactions.get": chat.reactions_get,
    "conversations.history": chat.conversations_history,
    "conversations.replies": chat.conversations_replies,
    "conversations.info": chat.conversations_info,
    "conversations.list": chat.conversations_list,
    "users.info": misc.users_info,
    "users.list": misc.users_list,
    "team.info": misc.team_info,
    "views.publish": misc.views_publish,
    "views.open": misc.views_open,
    "views.update": misc.views_update,
    "files.getUploadURLExternal": misc.files_get_upload_url,
    "files.completeUploadExternal": misc.files_complete_upload,
    "files.info": misc.files_info,
    "apps.connections.open": misc.apps_connections_open,
}
APP_TOKEN_METHODS = frozenset({"apps.connections.open"})


@dataclass(frozen=True)
class Call:
    """One Web API call as the emulator saw it."""

    method: str
    params: dict[str, Any]
    time: float
    status: int
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Return whether Slack would have answered ``"ok": true``."""
        return self.status == 200 and self.error is None


@dataclass
class Failure:
    """An injected failure for the next ``times`` calls of a method."""

    status: int
    retry_after: int
    times: int
    error: str = field(default="")
    # After the method took effect: Slack applied the call, and the answer was lost.
    after_apply: bool = False


def json_response(
    body: JSON, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """Return JSON the way Slack sends it."""
    return web.Response(
        text=json.dumps(body), status=status, headers=headers, content_type="application/json"
    )


def _handler(method: str) -> Method:
    handler = METHODS.get(method)
    if handler is None:
        raise ApiFailure("unknown_method")
    return handler


async def handle_api(request: web.Request) -> web.Response:
    """Answer one Web API call."""
    ws: Workspace = request.app[WORKSPACE]
    method = request.match_info["method"]
    params: dict[str, Any] = {}
    try:
        reader = await Params.read(request)
        params = reader.values
        injected = ws.take_failure(method)
        if injected is not None and not injected.after_apply:
            return _injected(ws, method, params, injected, request)
        _authenticate(ws, method, request, reader)
        body = await _handler(method)(ws, reader)
        if injected is not None:
            return _injected(ws, method, params, injected, request)
    except ApiFailure as failure:
        ws.record(Call(method, _safe(params), time.time(), 200, failure.code))
        return json_response({"ok": False, "error": failure.code, **failure.extra})
    ws.record(Call(method, _safe(params), time.time(), 200))
    return json_response({"ok": True, **body})


def _authenticate(ws: Workspace, method: str, request: web.Request, p: Params) -> None:
    header = request.headers.get("Authorization", "")
    token = header[len("Bearer ") :].strip() if header.startswith("Bearer ") else p.text("token")
    if not token:
        raise ApiFailure("not_authed")
    if token == ws.app_token:
        if method not in APP_TOKEN_METHODS:
            raise ApiFailure("not_allowed_token_type")
        return
    if token != ws.bot_token:
        raise ApiFailure("invalid_auth")
    if method in APP_TOKEN_METHODS:
        raise ApiFailure("not_allowed_token_type")


def _injected(
    ws: Workspace, method: str, params: dict[str, Any], failure: Failure, request: web.Request
) -> web.Response:
    if failure.status == 0:  # the connection is reset: the caller gets no answer at all
        ws.record(Call(method, _safe(params), time.time(), 0, "connection_reset"))
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=500)
    if failure.status == 429:
        ws.record(Call(method, _safe(params), time.time(), 429, "ratelimited"))
        return json_response(
            {"ok": False, "error": "ratelimited"},
            status=429,
            headers={"Retry-After": str(failure.retry_after)},
        )
    error = failure.error or ("fatal_error" if failure.status >= 500 else "invalid_arguments")
    ws.record(Call(method, _safe(params), time.time(), failure.status, error))
    return json_response({"ok": False, "error": error}, status=failure.status)


def _safe(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k != "token"}


async def handle_upload(request: web.Request) -> web.Response:
    """Accept a file's bytes at the URL ``files.getUploadURLExternal`` returned."""
    ws: Workspace = request.app[WORKSPACE]
    found = ws.state.files.get(request.match_info["file_id"])
    if found is None:
        return web.Response(status=404, text="file not found")
    if request.content_type == "multipart/form-data":
        form = await request.post()
        parts = [v for v in form.values() if isinstance(v, web.FileField)]
        data = parts[0].file.read() if parts else b""
    else:
        data = await request.read()
    found.data = data
    return web.Response(text=f"OK - {len(data)}")


async def handle_file(request: web.Request) -> web.StreamResponse:
    """Serve an uploaded file's bytes (``url_private``)."""
    ws: Workspace = request.app[WORKSPACE]
    found = ws.state.files.get(request.match_info["file_id"])
    if found is None or found.data is None:
        return web.Response(status=404, text="file not found")
    return web.Response(body=found.data, content_type=found.mimetype)
