"""The kinds of work the listeners put in the queue, and the keys that make each put idempotent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MENTION = "mention"
FLAG = "flag"
REACTION = "reaction"
TRY_AGAIN = "try_again"
# Long texts (up to Slack's 40,000 characters) cost the models many times a short one: they get
# lanes of their own, so that a burst of them never holds the slots a small new mention needs.
MENTION_LONG = "mention_long"
FLAG_LONG = "flag_long"
# A forget-me click: deleting and rebuilding is work that must survive a crash after the ack.
FORGET = "forget"
KINDS = (MENTION, FLAG, REACTION, TRY_AGAIN, MENTION_LONG, FLAG_LONG, FORGET)
LONG_LANES = {MENTION: MENTION_LONG, FLAG: FLAG_LONG}
# A few paragraphs; the texts people usually write are far below it.
LONG_TEXT = 2_000


def lane(kind: str, text: str) -> str:
    """Return the kind an item of ``kind`` about ``text`` is queued as: its long lane, or itself.

    >>> lane(MENTION, "short"), lane(MENTION, "x" * 40_000), lane(REACTION, "x" * 40_000)
    ('mention', 'mention_long', 'reaction')
    """
    return LONG_LANES.get(kind, kind) if len(text) > LONG_TEXT else kind


def mention_key(*, channel: str, ts: str) -> str:
    """Return the key of the one reply a mention (app_mention or DM, any delivery) gets."""
    return f"mention:{channel}:{ts}"


def flag_key(*, channel: str, ts: str) -> str:
    """Return the key of the one classification (and flag) a channel message gets."""
    return f"flag:{channel}:{ts}"


def event_key(event_id: str) -> str:
    """Return the key of one Events API event, however often Slack delivers it."""
    return f"event:{event_id}"


def action_key(*, interaction_id: str, action_ts: str) -> str:
    """Return the key of one button click."""
    return f"action:{interaction_id}:{action_ts}"


def forget_key(*, user: str, body: Mapping[str, Any]) -> str:
    """Return the key of one forget-me confirmation: a double click on one button is done once.

    The button's message (or, on App Home, the published view) names it; each new question
    gets a new key, so a later forget-me runs again.

    >>> forget_key(user="U1", body={"container": {"message_ts": "1.5"}})
    'forget:U1:1.5'
    >>> forget_key(user="U1", body={"view": {"id": "V1", "hash": "h7"}})
    'forget:U1:V1:h7'
    """
    container, view = body.get("container"), body.get("view")
    where = ""
    if isinstance(container, Mapping) and isinstance(container.get("message_ts"), str):
        where = container["message_ts"]
    elif isinstance(view, Mapping):
        where = f"{view.get('id', '')}:{view.get('hash', '')}"
    return f"forget:{user}:{where}"
