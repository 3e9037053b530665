"""Decide, before authorization and before any listener, which events are noise to drop."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_bolt.request import payload_utils

# A broadcast thread reply is a person's message shown in the channel too; every other
# subtype (edits, deletions, joins, bot messages, file comments...) is not a new message.
KEPT_MESSAGE_SUBTYPES = frozenset({"thread_broadcast"})
MESSAGE_EVENTS = frozenset({"message", "app_mention"})


def is_noise(body: Mapping[str, Any]) -> bool:
    """Return True for events no listener should see: bot messages, edits, joins and the like.

    >>> is_noise({"event": {"type": "message", "subtype": "message_changed"}})
    True
    >>> is_noise({"event": {"type": "app_mention", "user": "U1", "ts": "1.2", "text": "hi"}})
    False
    """
    event = body.get("event")
    if not isinstance(event, Mapping):
        return False  # not an Events API callback: commands and actions pass through
    if event.get("type") not in MESSAGE_EVENTS:
        return False
    if event.get("bot_id") or event.get("bot_profile"):
        return True
    subtype = event.get("subtype")
    if subtype is not None and subtype not in KEPT_MESSAGE_SUBTYPES:
        return True
    return not isinstance(event.get("user"), str) or not isinstance(event.get("ts"), str)


def is_malformed(body: object) -> bool:
    """Return True for payloads whose shape Slack never sends (lists where objects belong...).

    Bolt reads these fields without checking their types; a 400 here beats its 500.

    >>> is_malformed({"type": "event_callback", "event": []})
    True
    >>> is_malformed({"type": "event_callback", "event": {"type": "app_mention"}})
    False
    """
    if not isinstance(body, Mapping) or not _bolt_can_read(body):
        return True
    event = body.get("event")
    if "event" in body or body.get("type") == "event_callback":
        if not isinstance(event, Mapping) or not isinstance(event.get("type"), str):
            return True
        if _bad_fields(event) or ("item" in event and not isinstance(event["item"], Mapping)):
            return True
    if _bad_fields(body):
        return True
    actions = body.get("actions")
    return actions is not None and not (
        isinstance(actions, list) and actions and all(isinstance(a, Mapping) for a in actions)
    )


def _bolt_can_read(body: Mapping[str, Any]) -> bool:
    # Bolt extracts every payload kind for argument injection before any middleware runs, and
    # indexes into it unchecked (body["actions"][0]...): probe the same extractors first.
    payload = dict(body)
    try:
        for extract in _BOLT_EXTRACTORS:
            extract(payload)
    except (TypeError, KeyError, IndexError, AttributeError):
        return False
    return True


_BOLT_EXTRACTORS = (
    payload_utils.to_options,
    payload_utils.to_shortcut,
    payload_utils.to_action,
    payload_utils.to_view,
    payload_utils.to_command,
    payload_utils.to_event,
    payload_utils.to_message,
    payload_utils.to_step,
)

# Fields Bolt and our listeners read as objects or as ids, never as lists or numbers.
_OBJECT_FIELDS = ("item", "user", "team", "channel", "enterprise", "container", "view")


def _bad_fields(value: Mapping[str, Any]) -> bool:
    return any(
        value.get(key) is not None and not isinstance(value[key], Mapping | str)
        for key in _OBJECT_FIELDS
    )
