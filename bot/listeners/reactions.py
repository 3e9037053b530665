"""Emoji reactions on the bot's replies and flags become feedback; removing one retracts it.

The listener only puts the work in the queue (bot/work/reaction.py stores it); over HTTP,
bot/work/hot_events.py usually puts it first, with the same decision.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext

from bot.services import Services
from bot.work.event_work import reaction_work
from bot.work.intake import enqueue


def register(app: AsyncApp, services: Services) -> None:
    """Store reaction_added as feedback and retract it on reaction_removed."""

    async def on_reaction(body: dict[str, Any], context: AsyncBoltContext) -> None:
        await enqueue(services, context, reaction_work(body), body)

    app.event("reaction_added")(on_reaction)
    app.event("reaction_removed")(on_reaction)
