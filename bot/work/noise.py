"""Decide, before authorization and before any listener, which events are noise to drop."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
