"""Block Kit primitives that clip their text to Slack's limits, so builders cannot overflow them.

Limits from https://docs.slack.dev/reference/block-kit/blocks and .../composition-objects.
"""

from __future__ import annotations

from typing import Any

Block = dict[str, Any]

MAX_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_TEXT = 3000
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ACTION_ID = 255
MAX_CONFIRM_TITLE = 100
MAX_CONFIRM_TEXT = 300
MAX_CONFIRM_BUTTON = 30
MAX_MESSAGE_TEXT = 40000


def clip(text: str, limit: int) -> str:
    """Return ``text`` cut to at most ``limit`` characters, marked with an ellipsis if cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def header(text: str) -> Block:
    """Return a header block."""
    return {"type": "header", "text": _plain(clip(text, MAX_HEADER_TEXT))}


def section(text: str, *, accessory: Block | None = None) -> Block:
    """Return a mrkdwn section block."""
    block: Block = {"type": "section", "text": _mrkdwn(clip(text, MAX_SECTION_TEXT))}
    if accessory is not None:
        block["accessory"] = accessory
    return block


def context(text: str) -> Block:
    """Return a context block with one mrkdwn element."""
    return {"type": "context", "elements": [_mrkdwn(clip(text, MAX_CONTEXT_TEXT))]}


def divider() -> Block:
    """Return a divider block."""
    return {"type": "divider"}


def confirm(*, title: str, text: str, ok: str, deny: str = "Cancel") -> Block:
    """Return a confirmation dialog object for a button."""
    return {
        "title": _plain(clip(title, MAX_CONFIRM_TITLE)),
        "text": _mrkdwn(clip(text, MAX_CONFIRM_TEXT)),
        "confirm": _plain(clip(ok, MAX_CONFIRM_BUTTON)),
        "deny": _plain(clip(deny, MAX_CONFIRM_BUTTON)),
        "style": "danger",
    }


def button(
    text: str,
    *,
    action_id: str,
    value: str = "",
    style: str | None = None,
    confirm_dialog: Block | None = None,
) -> Block:
    """Return a button element; a value too long for Slack is refused rather than cut."""
    if len(value) > MAX_BUTTON_VALUE or len(action_id) > MAX_ACTION_ID:
        raise ValueError("button value or action_id is over Slack's limit")
    element: Block = {
        "type": "button",
        "text": _plain(clip(text, MAX_BUTTON_TEXT)),
        "action_id": action_id,
    }
    if value:
        element["value"] = value
    if style:
        element["style"] = style
    if confirm_dialog is not None:
        element["confirm"] = confirm_dialog
    return element


def actions(elements: list[Block], *, block_id: str | None = None) -> Block:
    """Return an actions block (Slack allows 25 elements; we never need more than a few)."""
    block: Block = {"type": "actions", "elements": elements[:25]}
    if block_id:
        block["block_id"] = block_id
    return block


def image(*, alt_text: str, slack_file_id: str | None = None, url: str | None = None) -> Block:
    """Return an image block from an uploaded Slack file or a public URL."""
    block: Block = {"type": "image", "alt_text": clip(alt_text, 2000)}
    if slack_file_id:
        block["slack_file"] = {"id": slack_file_id}
    else:
        block["image_url"] = url or ""
    return block


def cap_blocks(blocks: list[Block], note: str = "…and more; see `/sarcasm jobs`.") -> list[Block]:
    """Return at most MAX_BLOCKS blocks, ending with a note when some were dropped."""
    if len(blocks) <= MAX_BLOCKS:
        return blocks
    return [*blocks[: MAX_BLOCKS - 1], context(note)]


def _plain(text: str) -> Block:
    return {"type": "plain_text", "text": text, "emoji": True}


def _mrkdwn(text: str) -> Block:
    return {"type": "mrkdwn", "text": text}
