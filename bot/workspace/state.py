"""The emulated workspace's state, and the operations the Web API and the page perform on it.

Every operation that Slack can refuse raises :class:`ApiFailure` with Slack's own error code, so
the Web API layer turns it into ``{"ok": false, "error": code}`` unchanged.
"""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Any

from bot.workspace.model import (
    APP_ID,
    BOT_ID,
    JSON,
    TEAM_ID,
    Channel,
    Ephemeral,
    File,
    Message,
    User,
    default_channels,
    default_users,
)

MAX_TEXT = 40_000  # chat.postMessage truncates beyond this; we refuse like msg_too_long
MAX_BLOCKS = 50  # messages allow 50 blocks; App Home views allow 100
MAX_VIEW_BLOCKS = 100
MAX_MARKDOWN = 12_000  # markdown_text per chat.*Stream call


class ApiFailure(Exception):
    """A Slack Web API refusal; ``code`` is Slack's error string."""

    def __init__(self, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.extra = extra


class WorkspaceState:
    """Users, channels, messages, reactions, ephemeral messages, views and files."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {u.id: u for u in default_users()}
        self.channels: dict[str, Channel] = {c.id: c for c in default_channels()}
        self.messages: dict[str, dict[str, Message]] = {c: {} for c in self.channels}
        self.ephemerals: list[Ephemeral] = []
        self.files: dict[str, File] = {}
        self.home_views: dict[str, JSON] = {}
        self.modals: dict[str, JSON] = {}
        self.modal_errors: dict[str, dict[str, str]] = {}
        self._last_ts = 0.0
        self._ids = itertools.count(1)

    # -- ids -------------------------------------------------------------------------------
    def next_ts(self) -> str:
        """Return a fresh, strictly increasing message timestamp like ``1764070000.000100``."""
        now = max(time.time(), self._last_ts + 0.000001)
        self._last_ts = now
        return f"{now:.6f}"

    def new_id(self, prefix: str) -> str:
        """Return a fresh id with a Slack-like prefix (``F``, ``V``, ``Ev``...)."""
        return f"{prefix}{next(self._ids):06d}{uuid.uuid4().hex[:6].upper()}"

    # -- lookups ---------------------------------------------------------------------------
    def user(self, user_id: str | None) -> User:
        """Return the user or raise ``user_not_found``."""
        found = self.users.get(user_id or "")
        if found is None:
            raise ApiFailure("user_not_found")
        return found

    def channel(self, channel_id: str | None, *, viewer: str) -> Channel:
        """Return the channel ``viewer`` can see, or raise ``channel_not_found``."""
        found = self.channels.get(channel_id or "")
        if found is None or ((found.is_private or found.is_im) and viewer not in found.members):
            raise ApiFailure("channel_not_found")
        return found

    def member_channel(self, channel_id: str | None, *, viewer: str) -> Channel:
        """Return the channel if ``viewer`` is in it; else ``not_in_channel``."""
        found = self.channel(channel_id, viewer=viewer)
        if viewer not in found.members:
            raise ApiFailure("not_in_channel")
        return found

    def message(self, channel_id: str, ts: str | None) -> Message:
        """Return the message or raise ``message_not_found``."""
        found = self.messages.get(channel_id, {}).get(ts or "")
        if found is None:
            raise ApiFailure("message_not_found")
        return found

    def thread(self, channel_id: str, ts: str) -> list[Message]:
        """Return a thread's parent then its replies, oldest first."""
        parent = self.message(channel_id, ts)
        root = parent.thread_ts or parent.ts
        msgs = self.messages[channel_id].values()
        return sorted((m for m in msgs if m.ts == root or m.thread_ts == root), key=_ts_key)

    def top_level(self, channel_id: str) -> list[Message]:
        """Return a channel's top-level messages, oldest first."""
        return sorted(
            (m for m in self.messages[channel_id].values() if not m.is_reply), key=_ts_key
        )

    # -- changes ---------------------------------------------------------------------------
    def post(
        self,
        *,
        channel: Channel,
        user: str,
        text: str,
        blocks: list[JSON] | None = None,
        thread_ts: str | None = None,
        files: list[str] | None = None,
        metadata: JSON | None = None,
    ) -> Message:
        """Store a new message (a reply when ``thread_ts`` names a message in the channel)."""
        if len(text) > MAX_TEXT:
            raise ApiFailure("msg_too_long")
        if blocks is not None and len(blocks) > MAX_BLOCKS:
            raise ApiFailure("invalid_blocks", response_metadata={"messages": ["too many blocks"]})
        parent = self.messages[channel.id].get(thread_ts) if thread_ts else None
        if parent is not None:
            thread_ts = parent.thread_ts or parent.ts  # a reply to a reply joins the root thread
        # A well-formed thread_ts naming no message is accepted by Slack, and the reply is an
        # orphan nobody sees in the channel (slackapi/python-slack-sdk#840); we keep that.
        is_bot = self.users.get(user, None) is not None and self.users[user].is_bot
        msg = Message(
            ts=self.next_ts(),
            channel=channel.id,
            user=user,
            text=text,
            blocks=list(blocks or []),
            thread_ts=thread_ts,
            bot_id=BOT_ID if is_bot else None,
            files=list(files or []),
            client_msg_id=None if is_bot else str(uuid.uuid4()),
            metadata=metadata,
        )
        self.messages[channel.id][msg.ts] = msg
        if parent is not None:
            parent.thread_ts = parent.ts  # the parent becomes a thread root
        return msg

    def grow_stream(
        self, msg: Message, *, by: str, text: str, blocks: list[JSON] | None = None, stop: bool
    ) -> None:
        """Append ``text`` to a streaming message (``stop``: and finalize it with ``blocks``).

        Refused as chat.appendStream and chat.stopStream refuse: another app's message
        (``message_not_owned_by_app``), one no longer streaming
        (``message_not_in_streaming_state``), or too much text at once (``msg_too_long``).
        """
        if msg.user != by:
            raise ApiFailure("message_not_owned_by_app")
        if not msg.streaming:
            raise ApiFailure("message_not_in_streaming_state")
        if len(text) > MAX_MARKDOWN or len(msg.text) + len(text) > MAX_TEXT:
            raise ApiFailure("msg_too_long")
        if blocks is not None and len(blocks) >= MAX_BLOCKS:
            raise ApiFailure("invalid_blocks", response_metadata={"messages": ["too many blocks"]})
        msg.text += text
        if stop:
            msg.streaming = False
            # The streamed text becomes the message's first block; stopStream's blocks go below.
            msg.blocks = [{"type": "markdown", "text": msg.text}, *(blocks or [])]

    def update(self, msg: Message, *, by: str, text: str | None, blocks: list[JSON] | None) -> None:
        """Edit a message its author owns, or raise ``cant_update_message``."""
        if msg.user != by:
            raise ApiFailure("cant_update_message")
        if text is not None:
            if len(text) > MAX_TEXT:
                raise ApiFailure("msg_too_long")
            msg.text = text
        if blocks is not None:
            msg.blocks = list(blocks)
        msg.edited_ts = self.next_ts()

    def delete(self, msg: Message, *, by: str) -> None:
        """Delete a message its author owns, or raise ``cant_delete_message``."""
        if msg.user != by and not self.users[by].is_admin:
            raise ApiFailure("cant_delete_message")
        del self.messages[msg.channel][msg.ts]

    def react(self, msg: Message, *, user: str, name: str) -> None:
        """Add ``user``'s reaction, or raise ``already_reacted``."""
        users = msg.reactions.setdefault(name, [])
        if user in users:
            raise ApiFailure("already_reacted")
        users.append(user)

    def unreact(self, msg: Message, *, user: str, name: str) -> None:
        """Remove ``user``'s reaction, or raise ``no_reaction``."""
        users = msg.reactions.get(name, [])
        if user not in users:
            raise ApiFailure("no_reaction")
        users.remove(user)
        if not users:
            del msg.reactions[name]

    def add_ephemeral(
        self,
        *,
        channel: str,
        user: str,
        text: str,
        blocks: list[JSON] | None,
        thread_ts: str | None,
    ) -> Ephemeral:
        """Store a message only ``user`` will see."""
        if len(text) > MAX_TEXT:
            raise ApiFailure("msg_too_long")
        eph = Ephemeral(self.next_ts(), channel, user, text, list(blocks or []), thread_ts)
        self.ephemerals.append(eph)
        return eph

    def publish_home(self, *, user: str, view: JSON, hash_: str | None) -> JSON:
        """Store ``user``'s App Home view and return it as Slack echoes it."""
        self.user(user)
        if view.get("type") != "home":
            raise ApiFailure("invalid_arguments", response_metadata={"messages": ["type: home"]})
        _check_view(view)
        old = self.home_views.get(user)
        if hash_ and old is not None and old["hash"] != hash_:
            raise ApiFailure("hash_conflict")
        view_id = old["id"] if old else self.new_id("V")
        stored = _view_json(view, view_id=view_id, hash_=self.new_id("h"))
        self.home_views[user] = stored
        return stored

    def open_modal(self, *, user: str, view: JSON) -> JSON:
        """Store a modal opened for ``user`` and return it as Slack echoes it."""
        if view.get("type") != "modal":
            raise ApiFailure("invalid_arguments", response_metadata={"messages": ["type: modal"]})
        _check_view(view)
        stored = _view_json(view, view_id=self.new_id("V"), hash_=self.new_id("h"))
        self.modals[user] = stored
        self.modal_errors.pop(user, None)
        return stored

    def close_modal(self, *, user: str) -> None:
        """Close ``user``'s modal, if one is open, with its errors."""
        self.modals.pop(user, None)
        self.modal_errors.pop(user, None)

    # -- shapes ----------------------------------------------------------------------------
    def message_json(self, msg: Message, *, metadata: bool = False) -> JSON:
        """Return the message as ``conversations.history`` and friends return it.

        ``metadata`` (``include_all_metadata=true``) includes the message's metadata.
        """
        out: JSON = {"type": "message", "user": msg.user, "text": msg.text, "ts": msg.ts}
        if metadata and msg.metadata is not None:
            out["metadata"] = msg.metadata
        out["team"] = TEAM_ID
        if msg.blocks:
            out["blocks"] = msg.blocks
        if msg.client_msg_id:
            out["client_msg_id"] = msg.client_msg_id
        if msg.bot_id:
            out["bot_id"] = msg.bot_id
            out["app_id"] = APP_ID
            out["bot_profile"] = {"id": BOT_ID, "name": "sarcasm-bot", "app_id": APP_ID}
        if msg.files:
            out["files"] = [self.files[f].to_api() for f in msg.files if f in self.files]
            out["upload"] = False
        if msg.edited_ts:
            out["edited"] = {"user": msg.user, "ts": msg.edited_ts}
        if msg.thread_ts:
            out["thread_ts"] = msg.thread_ts
            if msg.is_reply:
                out["parent_user_id"] = self.messages[msg.channel].get(msg.thread_ts, msg).user
            else:
                replies = self.thread(msg.channel, msg.ts)[1:]
                users = list(dict.fromkeys(r.user for r in replies))
                out.update(
                    reply_count=len(replies),
                    reply_users=users,
                    reply_users_count=len(users),
                    latest_reply=replies[-1].ts if replies else msg.ts,
                )
        if msg.reactions:
            out["reactions"] = [
                {"name": n, "users": list(us), "count": len(us)} for n, us in msg.reactions.items()
            ]
        return out


def _ts_key(msg: Message) -> float:
    return float(msg.ts)


def _check_view(view: JSON) -> None:
    blocks = view.get("blocks")
    limit = MAX_VIEW_BLOCKS
    if not isinstance(blocks, list) or len(blocks) > limit:
        raise ApiFailure(
            "invalid_arguments", response_metadata={"messages": [f"blocks: 0..{limit} required"]}
        )
    for block in blocks:
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise ApiFailure("invalid_arguments", response_metadata={"messages": ["bad block"]})


def _view_json(view: JSON, *, view_id: str, hash_: str) -> JSON:
    return {
        "id": view_id,
        "team_id": TEAM_ID,
        "type": view["type"],
        "title": view.get("title"),
        "submit": view.get("submit"),
        "close": view.get("close"),
        "blocks": view["blocks"],
        "private_metadata": view.get("private_metadata", ""),
        "callback_id": view.get("callback_id", ""),
        "external_id": view.get("external_id", ""),
        "state": {"values": {}},
        "hash": hash_,
        "clear_on_close": False,
        "notify_on_close": False,
        "root_view_id": view_id,
        "app_id": APP_ID,
        "bot_id": BOT_ID,
    }
