"""Teach the classifier what it missed: a person's "sarcastic" reaction labels any message.

The reaction (``SARCASTIC_REACTION``, by default the flag's own emoji) on a message in a
channel the bot is in becomes a ``classify`` interaction (``output`` sarcastic, ``model_version``
:data:`~tuning.records.HUMAN_LABEL`) with the person's +1 feedback, which the classifier dataset
reads like a confirmed flag. On a message the bot already flagged it is simply a +1; removing
the reaction retracts it. Who counts:

* not the bot, and not other bots and apps: a label is a person's judgement;
* the message's own author does: nobody knows better whether they meant it;
* nobody who opted out, neither the person reacting nor the message's author;
* not on direct messages, nor on messages posted by bots (the bot's replies are ``generate``).

The message is fetched (``conversations.history``, then ``conversations.replies`` for a thread
reply) and stored redacted; a message deleted meanwhile is logged and nothing is stored.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.services import Services
from bot.transports.slack_client import SLACK_ERRORS
from tuning.errors import ConflictError
from tuning.records import HUMAN_LABEL, Interaction
from tuning.redaction import redact
from tuning.store.codec import key_digest

log = logging.getLogger(__name__)
GONE_ERRORS = frozenset({"message_not_found", "thread_not_found"})


def label_id(*, channel: str, ts: str) -> str:
    """Return the one interaction id of a labelled message, so two labellers share it."""
    return "label-" + key_digest(channel, ts)[:32]


async def handle_label(
    services: Services,
    client: AsyncWebClient | None,
    *,
    event: Mapping[str, Any],
    interaction: Interaction | None,
    reaction: str,
) -> None:
    """Store (or retract) ``event``'s sarcastic reaction as a label; see the module docstring."""
    item: Mapping[str, Any] = event["item"]
    user, channel, ts = str(event["user"]), str(item["channel"]), str(item["ts"])
    store = services.store
    if channel.startswith("D") or await store.is_opted_out(user=user):
        return
    if event.get("type") != "reaction_added":
        if interaction is not None:
            await store.retract_feedback(
                interaction_id=interaction.id, user=user, reaction=reaction
            )
        return
    if interaction is None:
        if client is None or await _is_bot(client, user):
            return
        interaction = await _new_label(services, client, channel=channel, ts=ts)
        if interaction is None:
            return
    await store.add_feedback(interaction_id=interaction.id, user=user, reaction=reaction, rating=1)
    log.info("labelled sarcastic", extra={"interaction": interaction.id})


async def _new_label(
    services: Services, client: AsyncWebClient, *, channel: str, ts: str
) -> Interaction | None:
    """Fetch the message and store it as a human-labelled ``classify`` interaction, or None."""
    message = await fetch_message(client, channel=channel, ts=ts)
    if message is None:
        log.info(
            "sarcastic reaction on a message that no longer exists; nothing stored",
            extra={"channel": channel, "ts": ts},
        )
        return None
    author, text = str(message.get("user") or ""), str(message.get("text") or "")
    if message.get("bot_id") or message.get("subtype") or not author or not text.strip():
        return None
    if await services.store.is_opted_out(user=author):
        log.info("sarcastic reaction on an opted-out author's message; nothing stored")
        return None
    interaction = Interaction(
        id=label_id(channel=channel, ts=ts),
        team=str(message.get("team") or ""),
        channel=channel,
        ts=ts,
        kind="classify",
        input_text=redact(text),
        output="sarcastic",
        model_version=HUMAN_LABEL,
        user=author,
        thread_ts=message.get("thread_ts"),
    )
    with contextlib.suppress(ConflictError):  # labelled by someone else a moment ago: share it
        await services.store.add_interaction(interaction)
    return interaction


async def fetch_message(client: AsyncWebClient, *, channel: str, ts: str) -> dict[str, Any] | None:
    """Return the message ``ts`` of ``channel`` (top level or in a thread), or None if gone.

    Other refusals (not in the channel, rate limits after retries) raise.
    """
    try:
        found = await client.conversations_history(
            channel=channel, latest=ts, oldest=ts, inclusive=True, limit=1
        )
        message = _matching(found.get("messages"), ts)
        if message is None:  # a thread reply is not in the history
            found = await client.conversations_replies(
                channel=channel, ts=ts, latest=ts, oldest=ts, inclusive=True, limit=10
            )
            message = _matching(found.get("messages"), ts)
    except SlackApiError as exc:
        if exc.response.get("error") in GONE_ERRORS:
            return None
        raise
    return message


def _matching(messages: object, ts: str) -> dict[str, Any] | None:
    if not isinstance(messages, list):
        return None
    return next((m for m in messages if isinstance(m, dict) and m.get("ts") == ts), None)


async def _is_bot(client: AsyncWebClient, user: str) -> bool:
    try:
        info = await client.users_info(user=user)
    except SLACK_ERRORS:
        log.warning("cannot tell whether a labeller is a bot; skipping", extra={"user": user})
        return True
    person = info.get("user") or {}
    return bool(person.get("is_bot")) or person.get("id") == "USLACKBOT"
