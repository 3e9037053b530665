"""Classify one channel message and flag it if it looks sarcastic enough for its channel.

Moved from bot/listeners/messages.py: the listener now only puts the work in the queue, whose
key (one per message) replaces the claims taken before the work.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.services import Services
from bot.views.replies import flag_text, mentions_user
from tuning.records import ChannelSettings, Interaction, Prediction
from tuning.redaction import redact

log = logging.getLogger(__name__)


async def handle_message(
    services: Services, client: AsyncWebClient | None, *, body: Mapping[str, Any], bot_user_id: str
) -> None:
    """Classify one channel message and flag it once if it looks sarcastic enough."""
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
    store = services.store
    if await store.is_opted_out(user=user):
        return
    settings = await store.channel_settings(channel=channel)
    if settings.mode == "off":
        return
    [prediction] = await services.models.classify([text])
    if prediction.probability < settings.threshold:
        return
    reply_ts = await _flag(client, settings, ts=ts, prediction=prediction)
    await store.add_interaction(
        Interaction(
            id=uuid.uuid4().hex,
            team=str(body.get("team_id") or event.get("team") or ""),
            channel=channel,
            ts=ts,
            kind="classify",
            input_text=redact(text),
            output=prediction.label,
            model_version=services.models.versions.get("classifier", ""),
            user=user,
            thread_ts=event.get("thread_ts"),
            reply_ts=reply_ts,
            probability=prediction.probability,
        )
    )
    log.info("flagged", extra={"channel": channel, "mode": settings.mode})


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
