"""The kinds of work the listeners put in the queue, and the keys that make each put idempotent."""

from __future__ import annotations

MENTION = "mention"
FLAG = "flag"
REACTION = "reaction"
TRY_AGAIN = "try_again"
# Long texts (up to Slack's 40,000 characters) cost the models many times a short one: they get
# lanes of their own, so that a burst of them never holds the slots a small new mention needs.
MENTION_LONG = "mention_long"
FLAG_LONG = "flag_long"
KINDS = (MENTION, FLAG, REACTION, TRY_AGAIN, MENTION_LONG, FLAG_LONG)
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
