"""Web API methods besides messages: ``auth``, ``users``, ``views``, ``files`` and ``apps``."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING
from urllib.parse import quote

from bot.workspace.methods_chat import ME, resolve_channel, thread_ts
from bot.workspace.model import BOT_ID, JSON, TEAM_DOMAIN, TEAM_ID, File
from bot.workspace.params import Params
from bot.workspace.state import ApiFailure

if TYPE_CHECKING:
    from bot.workspace.core import WorkspaceCore as Workspace

MAX_UPLOAD = 50 * 1024 * 1024


async def auth_test(ws: Workspace, p: Params) -> JSON:
    """Say who the token belongs to: the bot user in team T0001."""
    return {
        "url": f"{ws.base_url}/",
        "team": "Sarcasm Demo",
        "user": "sarcasm-bot",
        "team_id": TEAM_ID,
        "user_id": ME,
        "bot_id": BOT_ID,
        "is_enterprise_install": False,
    }


async def users_info(ws: Workspace, p: Params) -> JSON:
    """Return a user's profile, with ``is_admin`` and ``is_owner``."""
    return {"user": ws.state.user(p.required("user", "user_not_found")).to_api()}


async def users_list(ws: Workspace, p: Params) -> JSON:
    """Return every member of the workspace."""
    members = [u.to_api() for u in ws.state.users.values()]
    return {"members": members, "cache_ts": int(time.time()), "response_metadata": {}}


async def team_info(ws: Workspace, p: Params) -> JSON:
    """Return the workspace's name and domain."""
    return {"team": {"id": TEAM_ID, "name": "Sarcasm Demo", "domain": TEAM_DOMAIN}}


async def views_publish(ws: Workspace, p: Params) -> JSON:
    """Publish a user's App Home view."""
    user = p.required("user_id", "user_not_found")
    view = ws.state.publish_home(user=user, view=p.view(), hash_=p.text("hash"))
    ws.changed(f"home:{user}")
    return {"view": view}


async def views_open(ws: Workspace, p: Params) -> JSON:
    """Open a modal for the user whose click or command issued ``trigger_id``."""
    user = ws.use_trigger(p.required("trigger_id", "invalid_trigger_id"))
    view = ws.state.open_modal(user=user, view=p.view())
    ws.changed(f"modal:{user}")
    return {"view": view}


async def views_update(ws: Workspace, p: Params) -> JSON:
    """Replace a published home view or an open modal, found by ``view_id``."""
    view_id = p.required("view_id", "not_found")
    new = p.view()
    for table in (ws.state.home_views, ws.state.modals):
        for user, old in table.items():
            if old["id"] == view_id:
                if p.text("hash") and p.text("hash") != old["hash"]:
                    raise ApiFailure("hash_conflict")
                if table is ws.state.home_views:
                    del table[user]
                    stored = ws.state.publish_home(user=user, view=new, hash_=None)
                    stored["id"] = view_id
                else:
                    stored = ws.state.open_modal(user=user, view=new)
                    stored["id"] = view_id
                ws.changed(f"home:{user}")
                return {"view": stored}
    raise ApiFailure("not_found")


async def files_get_upload_url(ws: Workspace, p: Params) -> JSON:
    """Reserve a file id and return the emulator URL its bytes are POSTed to."""
    filename = p.required("filename", "invalid_arguments")
    length = p.integer("length", -1, low=-1, high=MAX_UPLOAD + 1)
    if length < 0 or length > MAX_UPLOAD:
        raise ApiFailure("invalid_arguments", response_metadata={"messages": ["length"]})
    file_id = ws.state.new_id("F")
    url = f"{ws.base_url}/files/{file_id}/{quote(filename)}"
    ws.state.files[file_id] = File(
        id=file_id,
        name=filename,
        title=filename,
        user=ME,
        length=length,
        created=int(time.time()),
        url_private=url,
        alt_txt=p.text("alt_txt", "") or "",
    )
    return {"upload_url": f"{ws.base_url}/upload/{file_id}", "file_id": file_id}


async def files_complete_upload(ws: Workspace, p: Params) -> JSON:
    """Finish uploads, titling them and sharing them into a channel or thread if asked."""
    entries = p.structured("files")
    if not isinstance(entries, list) or not entries:
        raise ApiFailure("invalid_arguments", response_metadata={"messages": ["files"]})
    done: list[File] = []
    for entry in entries:
        found = ws.state.files.get(str(entry.get("id"))) if isinstance(entry, dict) else None
        if found is None or found.data is None:
            raise ApiFailure("file_not_found")
        found.title = str(entry.get("title") or found.name)
        done.append(found)
    target = p.text("channel_id") or (p.text("channels") or "").split(",")[0] or None
    if target is not None:
        channel = resolve_channel(ws, target)
        if ME not in channel.members:
            raise ApiFailure("not_in_channel")
        msg = ws.state.post(
            channel=channel,
            user=ME,
            text=p.text("initial_comment", "") or "",
            thread_ts=thread_ts(p),
            files=[f.id for f in done],
        )
        ws.message_posted(msg)
    return {"files": [f.to_api() for f in done]}


async def files_info(ws: Workspace, p: Params) -> JSON:
    """Return an uploaded file's details."""
    found = ws.state.files.get(p.required("file", "file_not_found"))
    if found is None:
        raise ApiFailure("file_not_found")
    return {"file": found.to_api()}


async def apps_connections_open(ws: Workspace, p: Params) -> JSON:
    """Return a one-use Socket Mode websocket URL on the emulator."""
    return {"url": ws.socket_url()}
