"""Answer a mention (or DM) in its thread, and redo a reply for "Try again".

Moved from bot/listeners/mentions.py: the listener now only puts the work in the queue, whose
key (one per message, one per click) replaces the claims taken before the work.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.replying.answer import Prompt, answer
from bot.replying.posts import post_metadata, post_once
from bot.replying.retry import shown_for
from bot.services import Services
from bot.views.replies import EMPTY_MENTION, strip_mentions

log = logging.getLogger(__name__)


async def handle_mention(
    services: Services,
    client: AsyncWebClient | None,
    *,
    body: Mapping[str, Any],
    bot_user_id: str,
    post_id: str = "",
    attempt: int = 1,
) -> None:
    """Answer one mention (or DM) once, however often and however many ways it was delivered.

    ``post_id`` (the work item's) names the reply and its interaction; ``attempt`` > 1 means
    an earlier delivery of the item may have posted already.
    """
    event = _event(body)
    channel, ts, user = str(event.get("channel", "")), str(event["ts"]), str(event["user"])
    if client is None or not channel:
        return
    thread_ts = event.get("thread_ts")
    text = strip_mentions(str(event.get("text", "")), bot_user_id=bot_user_id)
    author = user
    if not text and isinstance(thread_ts, str) and thread_ts != ts:
        # A bare mention in a thread answers the thread's first message: its writer is the
        # prompt's author (forget-me finds it by them), the mentioner only the actor.
        author, text = await _thread_parent(client, channel=channel, thread_ts=thread_ts)
        text = strip_mentions(text, bot_user_id=bot_user_id)
    reply_in = thread_ts if isinstance(thread_ts, str) else ts
    if not text:
        await post_once(
            client,
            channel=channel,
            thread_ts=reply_in,
            metadata=post_metadata(post_id or ts, part="empty"),
            look_first=attempt > 1,
            text=EMPTY_MENTION,
        )
        return
    team = str(body.get("team_id") or event.get("team") or "")
    prompt = Prompt(
        team=team,
        channel=channel,
        ts=ts,
        thread_ts=reply_in,
        user=user,
        text=text,
        author=author,
        id=post_id,
        attempt=attempt,
    )
    await answer(services, client, prompt)


async def handle_try_again(
    services: Services,
    client: AsyncWebClient | None,
    *,
    body: Mapping[str, Any],
    post_id: str = "",
    attempt: int = 1,
) -> None:
    """Reply anew to the same prompt with one not yet shown, linked to the prompt's first reply."""
    actions = body.get("actions") or [{}]
    interaction_id = str(actions[0].get("value", ""))
    parent = await services.store.get_interaction(interaction_id) if interaction_id else None
    if parent is None or client is None:
        log.info("try again for an unknown interaction", extra={"interaction": interaction_id})
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
        author=parent.author,  # the presser asks again; the prompt is still its writer's
        parent_id=shown.first.id,
        shown=shown.texts,
        id=post_id,
        attempt=attempt,
    )
    await answer(services, client, prompt)


async def _thread_parent(
    client: AsyncWebClient, *, channel: str, thread_ts: str
) -> tuple[str, str]:
    """Return the writer and text of a thread's first message ("" and "" when it is gone)."""
    response = await client.conversations_replies(channel=channel, ts=thread_ts, limit=1)
    messages = response.get("messages") or []
    if not messages or not isinstance(messages[0], Mapping):
        return "", ""
    first = messages[0]
    return str(first.get("user") or ""), str(first.get("text") or "")


def _event(body: Mapping[str, Any]) -> Mapping[str, Any]:
    event = body.get("event")
    return event if isinstance(event, Mapping) else {}
