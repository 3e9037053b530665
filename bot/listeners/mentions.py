"""@-mentions and direct messages get a sarcastic reply in the thread; "Try again" redoes one.

Each handler only schedules work and returns, so Bolt acks at once; the model runs afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.replying.answer import Prompt, answer
from bot.replying.once import claim_event, claim_reply
from bot.replying.retry import shown_for
from bot.services import Services
from bot.views.replies import EMPTY_MENTION, TRY_AGAIN_ACTION, strip_mentions

log = logging.getLogger(__name__)


def register(app: AsyncApp, services: Services) -> None:
    """Answer app_mention events, DMs, and the "Try again" button."""

    async def on_mention(body: dict[str, Any], context: AsyncBoltContext) -> None:
        services.tasks.spawn(
            handle_mention(services, context.client, body=body, bot_user_id=_bot(context)),
            name="mention",
            limited=True,
        )

    async def on_try_again(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        services.tasks.spawn(
            handle_try_again(services, context.client, body=body), name="try_again", limited=True
        )

    app.event("app_mention")(on_mention)
    app.event("message", matchers=[_is_direct_message])(on_mention)
    app.action(TRY_AGAIN_ACTION)(on_try_again)


async def _is_direct_message(body: dict[str, Any]) -> bool:
    return _event(body).get("channel_type") == "im"


async def handle_mention(
    services: Services, client: AsyncWebClient | None, *, body: Mapping[str, Any], bot_user_id: str
) -> None:
    """Answer one mention (or DM) once, however often and however many ways it was delivered."""
    event = _event(body)
    channel, ts, user = str(event.get("channel", "")), str(event["ts"]), str(event["user"])
    if client is None or not channel:
        return
    store, holder = services.store, services.instance
    if not await claim_event(store, event_id=str(body.get("event_id", "")), holder=holder):
        return
    if not await claim_reply(store, channel=channel, ts=ts, holder=holder):
        return
    thread_ts = event.get("thread_ts")
    text = strip_mentions(str(event.get("text", "")), bot_user_id=bot_user_id)
    if not text and isinstance(thread_ts, str) and thread_ts != ts:
        text = await _thread_parent_text(client, channel=channel, thread_ts=thread_ts)
        text = strip_mentions(text, bot_user_id=bot_user_id)
    reply_in = thread_ts if isinstance(thread_ts, str) else ts
    if not text:
        await client.chat_postMessage(channel=channel, thread_ts=reply_in, text=EMPTY_MENTION)
        return
    team = str(body.get("team_id") or event.get("team") or "")
    prompt = Prompt(team=team, channel=channel, ts=ts, thread_ts=reply_in, user=user, text=text)
    await answer(services, client, prompt)


async def handle_try_again(
    services: Services, client: AsyncWebClient | None, *, body: Mapping[str, Any]
) -> None:
    """Reply anew to the same prompt with one not yet shown, linked to the prompt's first reply."""
    actions = body.get("actions") or [{}]
    interaction_id = str(actions[0].get("value", ""))
    action_ts = str(actions[0].get("action_ts", ""))
    parent = await services.store.get_interaction(interaction_id) if interaction_id else None
    if parent is None or client is None:
        log.info("try again for an unknown interaction", extra={"interaction": interaction_id})
        return
    key = f"action:{interaction_id}:{action_ts}"
    if not await claim_event(services.store, event_id=key, holder=services.instance):
        return
    user = str((body.get("user") or {}).get("id", "")) or parent.user
    shown = await shown_for(services.store, parent)
    prompt = Prompt(
        team=parent.team,
        channel=parent.channel,
        ts=parent.ts,
        thread_ts=parent.thread_ts or parent.ts,
        user=user,
        text=parent.input_text,
        parent_id=shown.first.id,
        shown=shown.texts,
    )
    await answer(services, client, prompt)


async def _thread_parent_text(client: AsyncWebClient, *, channel: str, thread_ts: str) -> str:
    response = await client.conversations_replies(channel=channel, ts=thread_ts, limit=1)
    messages = response.get("messages") or []
    return str(messages[0].get("text", "")) if messages else ""


def _event(body: Mapping[str, Any]) -> Mapping[str, Any]:
    event = body.get("event")
    return event if isinstance(event, Mapping) else {}


def _bot(context: AsyncBoltContext) -> str:
    return context.bot_user_id or ""
