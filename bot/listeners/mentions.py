"""@-mentions and direct messages get a sarcastic reply in the thread; "Try again" redoes one.

Each listener only puts the work in the queue (bot/work/mention.py does it) and returns, so
Bolt answers Slack once the work is kept, before any model runs. Over HTTP, mentions usually
take the hot path (bot/work/hot_events.py), with the same decision.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from bot.services import Services
from bot.views.replies import TRY_AGAIN_ACTION
from bot.work.event_work import Work, is_direct_message, mention_work
from bot.work.intake import enqueue
from bot.work.kinds import TRY_AGAIN, action_key


def register(app: AsyncApp, services: Services) -> None:
    """Answer app_mention events, DMs, and the "Try again" button."""

    async def on_mention(body: dict[str, Any], context: AsyncBoltContext) -> None:
        work = mention_work(body)
        if work is not None:
            await enqueue(services, context, work, body)

    async def on_try_again(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        action = (body.get("actions") or [{}])[0]
        key = action_key(
            interaction_id=str(action.get("value") or ""),
            action_ts=str(action.get("action_ts") or ""),
        )
        await enqueue(services, context, Work(TRY_AGAIN, key), body)
        await ack()

    app.event("app_mention")(on_mention)
    app.event("message", matchers=[_is_direct_message])(on_mention)
    app.action(TRY_AGAIN_ACTION)(on_try_again)


async def _is_direct_message(body: dict[str, Any]) -> bool:
    return is_direct_message(body)
