"""Flag sarcastic messages in the channels the bot is in, by each channel's mode and threshold.

The listener only puts the work in the queue (bot/work/flag.py classifies and flags); over
HTTP, bot/work/hot_events.py usually puts it first, with the same decision.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext

from bot.services import Services
from bot.work.event_work import flag_work, is_channel_message
from bot.work.intake import enqueue


def register(app: AsyncApp, services: Services) -> None:
    """Watch message.channels and message.groups events (noise is already dropped)."""

    async def on_message(body: dict[str, Any], context: AsyncBoltContext) -> None:
        work = flag_work(body, bot_user_id=context.bot_user_id or "")
        if work is not None:
            await enqueue(services, context, work, body)

    app.event("message", matchers=[_is_channel_message])(on_message)


async def _is_channel_message(body: dict[str, Any]) -> bool:
    return is_channel_message(body)
