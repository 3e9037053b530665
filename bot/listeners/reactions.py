"""Emoji reactions on the bot's replies and flags become feedback; removing one retracts it.

The listener only puts the work in the queue (bot/work/reaction.py stores it).
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext

from bot.services import Services
from bot.work.intake import enqueue
from bot.work.kinds import REACTION, event_key


def register(app: AsyncApp, services: Services) -> None:
    """Store reaction_added as feedback and retract it on reaction_removed."""

    async def on_reaction(body: dict[str, Any], context: AsyncBoltContext) -> None:
        event_id = body.get("event_id")
        event = body["event"]
        # Without an event id (Socket Mode replays, tests), the event's own fields are the key.
        key = event_key(
            str(event_id)
            if event_id
            else f"{event['type']}:{event.get('user')}:{event.get('reaction')}:"
            f"{event.get('event_ts')}"
        )
        await enqueue(services, context, kind=REACTION, key=key, body=body)

    app.event("reaction_added")(on_reaction)
    app.event("reaction_removed")(on_reaction)
