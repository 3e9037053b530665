"""The kinds of work the listeners put in the queue, and the keys that make each put idempotent."""

from __future__ import annotations

MENTION = "mention"
FLAG = "flag"
REACTION = "reaction"
TRY_AGAIN = "try_again"
KINDS = (MENTION, FLAG, REACTION, TRY_AGAIN)


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
