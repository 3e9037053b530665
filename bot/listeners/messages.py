"""Flag sarcastic messages in the channels the bot is in, by each channel's mode and threshold."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.listeners.exploration import marks
from bot.replying.once import claim_event, claim_reply
from bot.services import Services
from bot.views.replies import EXPLORE_REACTION, flag_text, mentions_user
from tuning.records import ChannelSettings, Interaction, Prediction
from tuning.redaction import redact

log = logging.getLogger(__name__)

FLAGGED_CHANNEL_TYPES = frozenset({"channel", "group"})


def register(app: AsyncApp, services: Services) -> None:
    """Watch message.channels and message.groups events (noise is already dropped)."""

    async def on_message(body: dict[str, Any], context: AsyncBoltContext) -> None:
        services.tasks.spawn(
            handle_message(
                services, context.client, body=body, bot_user_id=context.bot_user_id or ""
            ),
            name="flag",
            limited=True,
        )

    app.event("message", matchers=[_is_channel_message])(on_message)


async def _is_channel_message(body: dict[str, Any]) -> bool:
    event = body.get("event")
    return isinstance(event, Mapping) and event.get("channel_type") in FLAGGED_CHANNEL_TYPES


async def handle_message(
    services: Services, client: AsyncWebClient | None, *, body: Mapping[str, Any], bot_user_id: str
) -> None:
    """Classify one channel message; flag it once if it looks sarcastic enough.

    A near miss may get the "sarcastic?" marker instead (the channel's ``explore`` share).
    """
    event: Mapping[str, Any] = body["event"]
    channel, ts, user = str(event.get("channel", "")), str(event["ts"]), str(event["user"])
    text = str(event.get("text", ""))
    # The mention handler answers messages that mention the bot; one message never gets both.
    if (
        client is None
        or not channel
        or not text.strip()
        or mentions_user(text, user_id=bot_user_id)
    ):
        return
    store, holder = services.store, services.instance
    if not await claim_event(store, event_id=str(body.get("event_id", "")), holder=holder):
        return
    if await store.is_opted_out(user=user):
        return
    settings = await store.channel_settings(channel=channel)
    if settings.mode == "off":
        return
    [prediction] = await services.models.classify([text])
    flagged = prediction.probability >= settings.threshold
    explored = not flagged and marks(
        channel=channel,
        ts=ts,
        probability=prediction.probability,
        threshold=settings.threshold,
        share=settings.explore,
    )
    if not (flagged or explored):
        return
    if not await claim_reply(store, channel=channel, ts=ts, holder=holder):
        return
    output: str = prediction.label
    if explored:  # the marker asks "sarcastic?": ✅ answers yes, ❌ no
        await client.reactions_add(channel=channel, timestamp=ts, name=EXPLORE_REACTION)
        reply_ts, output = None, "sarcastic"
    else:
        reply_ts = await _flag(client, settings, ts=ts, prediction=prediction)
    await store.add_interaction(
        Interaction(
            id=uuid.uuid4().hex,
            team=str(body.get("team_id") or event.get("team") or ""),
            channel=channel,
            ts=ts,
            kind="classify",
            input_text=redact(text),
            output=output,
            model_version=services.models.versions.get("classifier", ""),
            user=user,
            thread_ts=event.get("thread_ts"),
            reply_ts=reply_ts,
            probability=prediction.probability,
        )
    )
    log.info(
        "explored" if explored else "flagged", extra={"channel": channel, "mode": settings.mode}
    )


async def _flag(
    client: AsyncWebClient, settings: ChannelSettings, *, ts: str, prediction: Prediction
) -> str | None:
    if settings.mode == "reply":
        response = await client.chat_postMessage(
            channel=settings.channel, thread_ts=ts, text=flag_text(prediction.probability)
        )
        return str(response["ts"])
    await client.reactions_add(channel=settings.channel, timestamp=ts, name=settings.reaction)
    return None
