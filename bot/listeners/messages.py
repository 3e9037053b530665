"""Flag sarcastic messages in the channels the bot is in, by each channel's mode and threshold.

The listener only puts the work in the queue (bot/work/flag.py classifies and flags).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext

from bot.services import Services
from bot.views.replies import mentions_user
from bot.work.intake import enqueue
from bot.work.kinds import FLAG, flag_key

FLAGGED_CHANNEL_TYPES = frozenset({"channel", "group"})


def register(app: AsyncApp, services: Services) -> None:
    """Watch message.channels and message.groups events (noise is already dropped)."""

    async def on_message(body: dict[str, Any], context: AsyncBoltContext) -> None:
        event = body["event"]
        channel, ts, text = str(event.get("channel") or ""), str(event["ts"]), event.get("text")
        # The mention handler answers messages that mention the bot; one never gets both.
        if not channel or not isinstance(text, str) or not text.strip():
            return
        if mentions_user(text, user_id=context.bot_user_id or ""):
            return
        key = flag_key(channel=channel, ts=ts)
        await enqueue(services, context, kind=FLAG, key=key, body=body)

    app.event("message", matchers=[_is_channel_message])(on_message)


async def _is_channel_message(body: dict[str, Any]) -> bool:
    event = body.get("event")
    return isinstance(event, Mapping) and event.get("channel_type") in FLAGGED_CHANNEL_TYPES
