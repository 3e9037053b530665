"""Classify one channel message and flag it if it looks sarcastic enough for its channel.

Moved from bot/listeners/messages.py: the listener now only puts the work in the queue, whose
key (one per message) replaces the claims taken before the work.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.replying.posts import post_metadata, post_once
from bot.services import Services
from bot.views.replies import EXPLORE_REACTION, flag_text, mentions_user
from bot.work.exploration import marks
from tuning.records import ChannelSettings, Interaction, Prediction
from tuning.redaction import redact

log = logging.getLogger(__name__)


async def handle_message(
    services: Services,
    client: AsyncWebClient | None,
    *,
    body: Mapping[str, Any],
    bot_user_id: str,
    post_id: str = "",
    attempt: int = 1,
    prediction: Prediction | None = None,
    recorded: bool | None = None,
    opted_out: bool | None = None,
    channel_settings: ChannelSettings | None = None,
) -> None:
    """Classify one channel message and flag it once if it looks sarcastic enough.

    ``post_id`` (the work item's) names the flag and its interaction; ``attempt`` > 1 means
    an earlier delivery of the item may have flagged already. ``prediction``, ``recorded``,
    ``opted_out`` and ``channel_settings`` are what the item's batch looked up together
    (bot/work/routes.py); each one not given is looked up here.
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
    store = services.store
    interaction_id = post_id or uuid.uuid4().hex
    if recorded is None:
        recorded = bool(post_id) and await store.get_interaction(post_id) is not None
    if recorded:
        return  # an earlier delivery of this work item finished it
    if opted_out is None:
        opted_out = await store.is_opted_out(user=user)
    if opted_out:
        return
    settings = channel_settings or await store.channel_settings(channel=channel)
    if settings.mode == "off":
        return
    if prediction is None:
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
    output: str = prediction.label
    if explored:  # the marker asks "sarcastic?": ✅ answers yes, ❌ no
        await _react(client, channel=channel, ts=ts, name=EXPLORE_REACTION)
        reply_ts, output = None, "sarcastic"
    else:
        reply_ts = await _flag(
            client,
            settings,
            ts=ts,
            prediction=prediction,
            post_id=interaction_id,
            again=attempt > 1,
        )
    await store.add_interaction(
        Interaction(
            id=interaction_id,
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
    client: AsyncWebClient,
    settings: ChannelSettings,
    *,
    ts: str,
    prediction: Prediction,
    post_id: str,
    again: bool,
) -> str | None:
    if settings.mode == "reply":
        return await post_once(
            client,
            channel=settings.channel,
            thread_ts=ts,
            metadata=post_metadata(post_id),
            look_first=again,
            text=flag_text(prediction.probability),
        )
    await _react(client, channel=settings.channel, ts=ts, name=settings.reaction)
    return None


async def _react(client: AsyncWebClient, *, channel: str, ts: str, name: str) -> None:
    try:
        await client.reactions_add(channel=channel, timestamp=ts, name=name)
    except SlackApiError as exc:
        # A reaction is its own idempotency key: an earlier delivery already added it.
        if exc.response.get("error") != "already_reacted":
            raise
