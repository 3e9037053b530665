"""Check the shape of every payload before Bolt reads it: what Slack never sends is refused.

Bolt and the listeners read fields without checking their types (``body["actions"][0]``, a
regex on ``action_id``, ``subtype in frozenset``), so a payload of the wrong shape would end in
a 500. Shapes follow https://docs.slack.dev/reference/interaction-payloads/ and
https://docs.slack.dev/apis/events-api/.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

from slack_bolt.request import payload_utils

# Slack's deepest payloads (views with nested blocks) stay well below this; json.loads and
# Bolt's copies recurse, so a body nested hundreds deep would raise RecursionError.
MAX_DEPTH = 48

# Interactivity payloads: each is sent with a "user" object that names the clicking user.
INTERACTIONS = frozenset(
    {
        "block_actions",
        "block_suggestion",
        "view_submission",
        "view_closed",
        "shortcut",
        "message_action",
        "interactive_message",
    }
)
KNOWN_TYPES = INTERACTIONS | {"event_callback", "url_verification", "app_rate_limited"}
# The events the listeners read: their fields must be strings where Slack sends strings.
HANDLED_EVENTS = frozenset(
    {"message", "app_mention", "reaction_added", "reaction_removed", "app_home_opened"}
)
_EVENT_STRINGS: tuple[str, ...] = ("user", "ts", "text", "channel", "thread_ts", "subtype")
_EVENT_STRINGS += ("channel_type", "event_ts", "reaction", "bot_id", "team", "tab", "item_user")
_ENVELOPE_STRINGS = ("event_id", "team_id", "api_app_id", "enterprise_id", "token")
_ACTION_STRINGS = ("action_id", "block_id", "value", "action_ts", "type")
# Fields Bolt reads as objects or as ids, never as lists or numbers.
_OBJECT_FIELDS = ("item", "user", "team", "channel", "enterprise", "container", "view")
# What JSON parses to besides objects and arrays (bool is an int).
_JSON_SCALARS = (str, int, float, type(None))


def parse_json(text: str) -> object | None:
    """Return the parsed JSON of ``text``, or None if it is not JSON or is nested too deep."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return None if too_deep(value) else value


def too_deep(value: object, *, limit: int = MAX_DEPTH) -> bool:
    """Return True if ``value`` nests lists or objects more than ``limit`` deep (no recursion)."""
    # One level at a time: this runs on every request before the ack, so it builds no tuples.
    level: list[Any] = [value]
    for _ in range(limit):
        below: list[Any] = []
        for node in level:
            if isinstance(node, list):
                below.extend(node)
            elif is_object(node):
                below.extend(node.values())
        if not below:
            return False
        level = below
    return True


def is_object(value: object) -> TypeGuard[Mapping[str, Any]]:
    """Return ``isinstance(value, Mapping)``, sooner for what JSON parses to.

    The checks run on every field of every request before the ack, and an ABC's isinstance
    check costs several times a built-in type's.

    >>> is_object({}), is_object("{}"), is_object(None)
    (True, False, False)
    """
    if isinstance(value, dict):
        return True
    return not isinstance(value, _JSON_SCALARS) and isinstance(value, Mapping)


def is_unknown(body: Mapping[str, Any]) -> bool:
    """Return True for a payload type this app does not know: answered 200 and ignored.

    >>> is_unknown({"type": "something_new"})
    True
    >>> is_unknown({"command": "/sarcasm"})
    False
    """
    if "command" in body or "event" in body:
        return False
    kind = body.get("type")
    return not isinstance(kind, str) or kind not in KNOWN_TYPES


def is_malformed(body: object, *, depth_checked: bool = False) -> bool:
    """Return True for payloads whose shape Slack never sends (lists where objects belong...).

    ``depth_checked``: ``body`` came from :func:`parse_json`, which measured its nesting.

    >>> is_malformed({"type": "event_callback", "event": []})
    True
    >>> is_malformed({"type": "event_callback", "event": {"type": "app_mention"}})
    False
    """
    if not is_object(body) or (not depth_checked and too_deep(body)):
        return True
    if not _is_event_callback(body) and not _bolt_can_read(body):
        return True
    if _bad_fields(body) or _not_strings(body, ("type", *_ENVELOPE_STRINGS)):
        return True
    if "event" in body or body.get("type") == "event_callback":
        return _bad_event(body.get("event"))
    if "command" in body:
        return _not_strings(body, ("command", "text", "user_id", "channel_id", "team_id"))
    if body.get("type") in INTERACTIONS:
        return _bad_interaction(body)
    return body.get("type") == "url_verification" and not isinstance(body.get("challenge"), str)


def _bad_event(event: object) -> bool:
    if not is_object(event) or not isinstance(event.get("type"), str):
        return True
    if _bad_fields(event):
        return True
    if event["type"] not in HANDLED_EVENTS:
        return False
    if _not_strings(event, _EVENT_STRINGS):
        return True
    item = event.get("item")
    return item is not None and (
        not is_object(item) or _not_strings(item, ("type", "channel", "ts"))
    )


def _bad_interaction(body: Mapping[str, Any]) -> bool:
    kind = body["type"]
    user = body.get("user")
    if not is_object(user) or not isinstance(user.get("id"), str):
        return True
    for key in ("container", "view", "team", "channel"):
        if body.get(key) is not None and not is_object(body[key]):
            return True
    if kind in ("view_submission", "view_closed") and not is_object(body.get("view")):
        return True
    if kind == "block_suggestion":
        return _not_strings(body, ("action_id", "block_id", "value"), required=True)
    actions = body.get("actions")
    if kind == "block_actions" or actions is not None:
        if not isinstance(actions, list) or not actions:
            return True
        return not all(
            is_object(a)
            and isinstance(a.get("action_id"), str)
            and not _not_strings(a, _ACTION_STRINGS)
            for a in actions
        )
    return False


def _not_strings(value: Mapping[str, Any], keys: Sequence[str], *, required: bool = False) -> bool:
    # Loops, not any() over a generator: these run on every request before the ack.
    for key in keys:
        field = value.get(key)
        if (field is not None or required) and not isinstance(field, str):
            return True
    return False


def _bad_fields(value: Mapping[str, Any]) -> bool:
    for key in _OBJECT_FIELDS:
        field = value.get(key)
        if field is not None and not isinstance(field, str) and not is_object(field):
            return True
    return False


def _is_event_callback(body: Mapping[str, Any]) -> bool:
    # Bolt's extractors (below) read an event callback only as body["event"] and, for a few
    # event types, a key they first check is there: one whose event is an object with a string
    # type never makes them raise, and nine in ten requests are one.
    event = body.get("event")
    return (
        body.get("type") == "event_callback"
        and is_object(event)
        and isinstance(event.get("type"), str)
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
