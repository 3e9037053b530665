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
from bot.views.replies import TRY_AGAIN_ACTION
from bot.work.label import fetch_message, handle_label
from bot.work.reaction_ratings import FeedbackMap, base_reaction
from tuning.store.base import Store

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
    target = _target(event, bot_user_id=bot_user_id)
    if target is None:
        return
    assert isinstance(event, Mapping)  # _target checked it, for mypy
    user, reaction, channel, ts = target
    store = services.store
    interaction = await store.find_interaction(channel=channel, ts=ts)
    if interaction is None and event.get("item_user") == bot_user_id and client is not None:
        await _rate_unrecorded_reply(
            services, client, event=event, feedback_map=feedback_map, reaction=reaction
        )
        return
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
    added = await _apply(store, event, interaction_id=interaction.id, user=user, rating=rating)
    if added and rating < 0 and interaction.kind == "generate" and client is not None:
        await offer_correction(client, interaction, user=user)
    log.info("feedback", extra={"interaction": interaction.id, "type": event.get("type")})


async def _apply(
    store: Store, event: Mapping[str, Any], *, interaction_id: str, user: str, rating: int
) -> bool:
    """Store a reaction_added as feedback, or retract it for a removal; return whether added.

    Writes are ordered by the event's ts: a late reaction_added retry cannot undo a newer
    removal.
    """
    name, event_ts = base_reaction(str(event["reaction"])), str(event.get("event_ts") or "")
    if event.get("type") != "reaction_added":
        await store.retract_feedback(
            interaction_id=interaction_id, user=user, reaction=name, event_ts=event_ts
        )
        return False
    await store.add_feedback(
        interaction_id=interaction_id, user=user, reaction=name, rating=rating, event_ts=event_ts
    )
    return True


def _target(event: object, *, bot_user_id: str) -> tuple[str, str, str, str] | None:
    """Return (user, reaction, channel, ts) of a person's reaction on a message, else None."""
    if not isinstance(event, Mapping):
        return None
    item = event.get("item")
    user, reaction = event.get("user"), event.get("reaction")
    if not isinstance(item, Mapping) or item.get("type") != "message":
        return None
    channel, ts = item.get("channel"), item.get("ts")
    fields = (user, reaction, channel, ts)
    if not all(isinstance(v, str) and v for v in fields):
        return None
    if user == bot_user_id:  # the bot's own reactions (flags, hourglass) are never feedback
        return None
    return str(user), str(reaction), str(channel), str(ts)


async def _rate_unrecorded_reply(
    services: Services,
    client: AsyncWebClient,
    *,
    event: Mapping[str, Any],
    feedback_map: FeedbackMap,
    reaction: str,
) -> None:
    """Keep a rating of a reply that was posted but whose interaction is not recorded yet.

    A crash between posting a reply and recording it leaves the work item to a later attempt,
    which finds the post and records it under the same id. The reply's *Try again* button names
    that id, so a rating given meanwhile is stored under it and joins the interaction then.
    """
    item, user = event["item"], str(event["user"])
    message = await fetch_message(client, channel=str(item["channel"]), ts=str(item["ts"]))
    interaction_id = _try_again_value(message)
    rating = feedback_map.rating("generate", reaction)
    if interaction_id is None or rating is None or await services.store.is_opted_out(user=user):
        return
    await _apply(services.store, event, interaction_id=interaction_id, user=user, rating=rating)
    log.info("feedback on a reply not recorded yet", extra={"interaction": interaction_id})


def _try_again_value(message: Mapping[str, Any] | None) -> str | None:
    """Return the interaction id a recorded reply's *Try again* button carries, or None."""
    blocks = message.get("blocks") if message is not None else None
    for block in blocks if isinstance(blocks, list) else ():
        elements = block.get("elements") if isinstance(block, Mapping) else None
        for element in elements if isinstance(elements, list) else ():
            if isinstance(element, Mapping) and element.get("action_id") == TRY_AGAIN_ACTION:
                value = element.get("value")
                return value if isinstance(value, str) and value else None
    return None
