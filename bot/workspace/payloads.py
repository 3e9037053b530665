"""Pure builders for what Slack sends an app: event envelopes, slash commands and interactions.

Shapes follow https://docs.slack.dev/apis/events-api/ (``event_callback``),
https://docs.slack.dev/interactivity/implementing-slash-commands/ and
https://docs.slack.dev/reference/interaction-payloads/block_actions-payload/.
"""

from __future__ import annotations

import re
import time
from typing import Any

from bot.workspace.model import APP_ID, BOT_USER_ID, JSON, TEAM_DOMAIN, TEAM_ID, Channel, User

# Slack still sends the deprecated verification token; Bolt ignores it when signing is on.
VERIFICATION_TOKEN = "emulated-verification-token"
MENTION = re.compile(r"<@([A-Z0-9_]+)(?:\|[^>]*)?>")


def build_rich_text(text: str, *, block_id: str) -> JSON:
    """Return the ``rich_text`` block Slack's client attaches to a typed message."""
    elements: list[JSON] = []
    for i, part in enumerate(MENTION.split(text)):
        if i % 2:
            elements.append({"type": "user", "user_id": part})
        elif part:
            elements.append({"type": "text", "text": part})
    section = {"type": "rich_text_section", "elements": elements}
    return {"type": "rich_text", "block_id": block_id, "elements": [section]}


def build_envelope(event: JSON, *, event_id: str, event_time: int | None = None) -> JSON:
    """Wrap an inner event in the ``event_callback`` envelope the Events API delivers."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": TEAM_ID,
        "context_team_id": TEAM_ID,
        "context_enterprise_id": None,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": event_time if event_time is not None else int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-emulated-{event_id}",
    }


def build_message_event(message: JSON, *, channel: Channel) -> JSON:
    """Return the ``message`` event for a message in the API's message shape."""
    event = {k: v for k, v in message.items() if k not in ("reply_count", "reply_users")}
    event.update(channel=channel.id, event_ts=message["ts"], channel_type=channel.channel_type)
    for key in ("reply_users_count", "latest_reply", "reactions"):
        event.pop(key, None)
    return event


def build_app_mention(message: JSON, *, channel: Channel) -> JSON:
    """Return the ``app_mention`` event Slack sends alongside the ``message`` event."""
    keys = ("user", "text", "ts", "thread_ts", "blocks", "client_msg_id", "team", "files")
    event = {"type": "app_mention", **{k: message[k] for k in keys if k in message}}
    event.update(channel=channel.id, event_ts=message["ts"])
    return event


def build_subtype_event(subtype: str, *, channel: Channel, ts: str, **fields: Any) -> JSON:
    """Return a ``message`` event with a subtype (``message_changed``, ``message_deleted``)."""
    event = {"type": "message", "subtype": subtype, "channel": channel.id, "hidden": True}
    event.update(ts=ts, event_ts=ts, channel_type=channel.channel_type, **fields)
    return event


def build_reaction_event(
    kind: str, *, user: str, name: str, channel: str, ts: str, item_user: str, event_ts: str
) -> JSON:
    """Return a ``reaction_added`` or ``reaction_removed`` event."""
    return {
        "type": kind,
        "user": user,
        "reaction": name,
        "item_user": item_user,
        "item": {"type": "message", "channel": channel, "ts": ts},
        "event_ts": event_ts,
    }


def build_home_opened(*, user: str, channel: str, view: JSON | None, event_ts: str) -> JSON:
    """Return an ``app_home_opened`` event for the Home tab."""
    event: JSON = {"type": "app_home_opened", "user": user, "channel": channel, "tab": "home"}
    event["event_ts"] = event_ts
    if view is not None:
        event["view"] = view
    return event


def build_slash_command(
    *,
    user: User,
    channel: Channel,
    command: str,
    text: str,
    response_url: str,
    trigger_id: str,
) -> dict[str, str]:
    """Return the form fields of a slash command invocation."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": TEAM_ID,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel.id,
        "channel_name": "directmessage" if channel.is_im else channel.name,
        "user_id": user.id,
        "user_name": user.name,
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def build_block_actions(
    *,
    user: User,
    action: JSON,
    trigger_id: str,
    view: JSON | None = None,
    message: JSON | None = None,
    channel: Channel | None = None,
    response_url: str | None = None,
    state: JSON | None = None,
) -> JSON:
    """Return a ``block_actions`` payload for a click in a view or in a message."""
    payload: JSON = {
        "type": "block_actions",
        "user": {"id": user.id, "username": user.name, "name": user.name, "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id,
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "actions": [{**action, "action_ts": f"{time.time():.6f}"}],
        "state": {"values": state or {}},
    }
    if view is not None:
        payload["container"] = {"type": "view", "view_id": view["id"]}
        payload["view"] = view
    if message is not None and channel is not None:
        payload["container"] = {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": channel.id,
            "is_ephemeral": bool(message.get("is_ephemeral")),
        }
        payload["channel"] = {"id": channel.id, "name": channel.name}
        payload["message"] = {k: v for k, v in message.items() if k != "is_ephemeral"}
    if response_url is not None:
        payload["response_url"] = response_url
    return payload


def build_view_submission(*, user: User, view: JSON, values: JSON, trigger_id: str) -> JSON:
    """Return a ``view_submission`` payload for a submitted modal."""
    return {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "user": {"id": user.id, "username": user.name, "name": user.name, "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id,
        "view": {**view, "state": {"values": values}},
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
