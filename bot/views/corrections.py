"""Block Kit for "a 👎 can come with a better reply": the offer, the modal and its lines.

The modal follows https://docs.slack.dev/surfaces/modals/ and answers a bad submission with
``response_action: errors`` (https://docs.slack.dev/reference/interaction-payloads/view-interactions-payload/).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.views import blocks as bk

SUGGEST_ACTION = "sarcasm_suggest_reply"
CORRECTION_VIEW = "sarcasm_correction"
CORRECTION_BLOCK = "correction"
CORRECTION_INPUT = "text"
MAX_CORRECTION_CHARS = 3000
MAX_QUOTED_REPLY = 2000

OFFER_TEXT = "Thanks for the 👎. Want to show me what would have been better?"
THANKS = "Thanks! Your better reply is saved; I'll learn from it at the next tuning run."
OPTED_OUT = (
    "You opted out (`/sarcasm optout`), so I did not store your suggestion. "
    "`/sarcasm optin` to change that."
)
GONE = "That reply no longer exists (it was deleted or forgotten), so there is nothing to improve."
EMPTY = "Write the reply you would have liked to see."
# Shown on the modal when the store cannot take the reply: the modal stays open to submit again.
NOT_SAVED = "I could not save this just now. Please submit it again in a moment."


@dataclass(frozen=True)
class Target:
    """The bot reply a correction improves on, and where to answer the person who wrote it."""

    interaction_id: str
    channel: str
    thread_ts: str | None = None


def build_offer_blocks(interaction_id: str) -> list[bk.Block]:
    """Return the ephemeral offer to suggest a better reply for one bot reply."""
    button = bk.button("Suggest a better reply", action_id=SUGGEST_ACTION, value=interaction_id)
    return [bk.section(OFFER_TEXT), bk.actions([button])]


def build_correction_modal(target: Target, *, reply: str) -> dict[str, Any]:
    """Return the modal that asks for a better reply than ``reply``."""
    quoted = bk.clip(" ".join(reply.split()), MAX_QUOTED_REPLY)
    return {
        "type": "modal",
        "callback_id": CORRECTION_VIEW,
        "title": {"type": "plain_text", "text": "A better reply"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": encode_target(target),
        "blocks": [
            bk.context(f"I said: “{_escape(quoted)}”"),
            {
                "type": "input",
                "block_id": CORRECTION_BLOCK,
                "label": {"type": "plain_text", "text": "What would have been better?"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": CORRECTION_INPUT,
                    "multiline": True,
                    "max_length": MAX_CORRECTION_CHARS,
                },
            },
            bk.context("Personal details (emails, phone numbers, links...) are removed."),
        ],
    }


def correction_problem(text: str) -> str | None:
    """Return why ``text`` cannot be saved as a better reply, or None when it can."""
    if not text.strip():
        return EMPTY
    if len(text) > MAX_CORRECTION_CHARS:
        return f"Keep it to {MAX_CORRECTION_CHARS:,} characters (this one has {len(text):,})."
    return None


def submitted_text(view: Mapping[str, Any]) -> str:
    """Return the text typed into the modal's input, or "" when there is none."""
    values = (view.get("state") or {}).get("values") or {}
    field = (values.get(CORRECTION_BLOCK) or {}).get(CORRECTION_INPUT) or {}
    value = field.get("value") if isinstance(field, Mapping) else None
    return value if isinstance(value, str) else ""


def encode_target(target: Target) -> str:
    """Return ``target`` as the modal's ``private_metadata`` (at most 3,000 characters)."""
    return json.dumps(
        {"i": target.interaction_id, "c": target.channel, "t": target.thread_ts},
        separators=(",", ":"),
    )


def decode_target(metadata: str) -> Target | None:
    """Return the target ``private_metadata`` names, or None when it is not one of ours."""
    try:
        data = json.loads(metadata)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    interaction_id, channel, thread_ts = data.get("i"), data.get("c"), data.get("t")
    if not (isinstance(interaction_id, str) and interaction_id and isinstance(channel, str)):
        return None
    return Target(interaction_id, channel, thread_ts if isinstance(thread_ts, str) else None)


def _escape(text: str) -> str:
    # mrkdwn needs &, < and > escaped (https://docs.slack.dev/messaging/formatting-message-text/).
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
