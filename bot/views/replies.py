"""Pure helpers for what the bot posts: Slack-sized chunks, reply blocks, the fixed lines.

Slack truncates ``text`` past 40,000 characters and a section block holds at most 3,000
(https://api.slack.com/methods/chat.postMessage#truncating, https://api.slack.com/reference/block-kit/blocks#section).
"""

from __future__ import annotations

import re
from typing import Any

MAX_MESSAGE_CHARS = 3000
MAX_TOTAL_CHARS = 40_000
TRY_AGAIN_ACTION = "sarcasm_try_again"
# The discreet "sarcastic?" marker on a near miss (exploration), distinct from the flag's emoji.
EXPLORE_REACTION = "thinking_face"
FRIENDLY_ERROR = "Sorry, my sarcasm generator is out of order right now. Try again in a minute."
EMPTY_MENTION = "Mention me with something to be sarcastic about, or mention me in a thread."
ELLIPSIS = "…"


def _mention_pattern(user_id: str) -> str:
    # Slack writes mentions as <@U123> or, in older payloads, <@U123|name>.
    return rf"<@{re.escape(user_id)}(?:\|[^>]*)?>"


def strip_mentions(text: str, *, bot_user_id: str) -> str:
    """Return ``text`` without the bot's own mention, other mentions kept, whitespace tidied."""
    without = re.sub(_mention_pattern(bot_user_id), " ", text) if bot_user_id else text
    return " ".join(without.split())


def mentions_user(text: str, *, user_id: str) -> bool:
    """Return whether ``text`` contains an ``<@user_id>`` mention."""
    return bool(user_id) and re.search(_mention_pattern(user_id), text) is not None


def split_text(
    text: str, *, limit: int = MAX_MESSAGE_CHARS, total: int = MAX_TOTAL_CHARS
) -> list[str]:
    """Split ``text`` into chunks of at most ``limit`` chars at paragraph, line or word breaks.

    Text past ``total`` characters is trimmed with an ellipsis first.

    >>> split_text("a b", limit=2)
    ['a', 'b']
    """
    text = text.strip()
    if len(text) > total:
        text = text[: total - 1].rstrip() + ELLIPSIS
    chunks: list[str] = []
    while len(text) > limit:
        window = text[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind(" "))
        if cut < limit // 2:  # no natural break in the second half: cut mid-word
            cut = limit
        chunks.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        chunks.append(text)
    return chunks


def build_reply_blocks(text: str, *, interaction_id: str | None) -> list[dict[str, Any]]:
    """Return a section with the reply and, when it was recorded, a "Try again" button."""
    section = {"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}
    return [section, *build_reply_actions(interaction_id=interaction_id)]


def build_reply_actions(*, interaction_id: str | None) -> list[dict[str, Any]]:
    """Return the "Try again" button's block for a recorded reply; none when not recorded."""
    if not interaction_id:
        return []
    button = {
        "type": "button",
        "action_id": TRY_AGAIN_ACTION,
        "text": {"type": "plain_text", "text": "Try again", "emoji": True},
        "value": interaction_id,
    }
    return [{"type": "actions", "elements": [button]}]


def flag_text(probability: float) -> str:
    """Return the thread reply for a flag in ``reply`` mode, such as "Sarcasm detected (87%)"."""
    return f"Sarcasm detected ({round(probability * 100)}%)"
