"""Store a reaction on the bot's replies and flags as feedback; a removal retracts it.

Moved from bot/listeners/reactions.py. Writes are ordered by the event's ``event_ts``, so a
redelivered add never undoes a newer removal, and applying one event twice changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.replying.correction_offer import offer_correction
from bot.services import Services
from bot.work.label import handle_label
from bot.work.reaction_ratings import FeedbackMap, base_reaction

log = logging.getLogger(__name__)


async def handle_reaction(
    services: Services,
    client: AsyncWebClient | None,
    *,
    body: Mapping[str, Any],
    bot_user_id: str,
    feedback_map: FeedbackMap,
) -> None:
    """Record or retract one reaction if it lands on an interaction and means a rating.

    The sarcastic reaction on any other message is a label (:mod:`bot.work.label`), and a 👎
    on a bot reply also offers its giver a *Suggest a better reply* button.
    """
    event = body.get("event")
    if not isinstance(event, Mapping):
        return
    item = event.get("item")
    user, reaction = event.get("user"), event.get("reaction")
    if not isinstance(item, Mapping) or item.get("type") != "message":
        return
    channel, ts = item.get("channel"), item.get("ts")
    if not all(isinstance(v, str) and v for v in (user, reaction, channel, ts)):
        return
    assert isinstance(user, str)  # narrowed above, for mypy
    assert isinstance(reaction, str)
    if user == bot_user_id:  # the bot's own reactions (flags, hourglass) are never feedback
        return
    store = services.store
    interaction = await store.find_interaction(channel=str(channel), ts=str(ts))
    name = base_reaction(reaction)
    if name == services.settings.sarcastic_reaction and (
        interaction is None or interaction.kind == "classify"
    ):
        await handle_label(services, client, event=event, interaction=interaction, reaction=name)
        return
    if interaction is None:
        return
    rating = feedback_map.rating(interaction.kind, reaction)
    if rating is None or await store.is_opted_out(user=user):
        return
    # Ordered by the event's ts: a late reaction_added retry cannot undo a newer removal.
    event_ts = str(event.get("event_ts") or "")
    if event.get("type") == "reaction_added":
        await store.add_feedback(
            interaction_id=interaction.id,
            user=user,
            reaction=name,
            rating=rating,
            event_ts=event_ts,
        )
        if rating < 0 and interaction.kind == "generate" and client is not None:
            await offer_correction(client, interaction, user=user)
    else:
        await store.retract_feedback(
            interaction_id=interaction.id, user=user, reaction=name, event_ts=event_ts
        )
    log.info("feedback", extra={"interaction": interaction.id, "type": event.get("type")})
