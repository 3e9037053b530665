"""Which handler does each kind of work item: the payload the listener put, back as arguments."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.services import Services
from bot.work.flag import handle_message
from bot.work.kinds import FLAG, FLAG_LONG, MENTION, MENTION_LONG, REACTION, TRY_AGAIN
from bot.work.mention import handle_mention, handle_try_again
from bot.work.reaction import handle_reaction
from bot.work.reaction_ratings import DEFAULT_FEEDBACK_MAP, FeedbackMap
from tuning.queue.base import WorkItem

# Where run_item passes the item's post id and delivery count to the handlers.
WORK = "_work"
Handler = Callable[[Services, AsyncWebClient, Mapping[str, Any]], Awaitable[None]]
# Work done once for a whole leased batch of one kind; returns extra handler arguments per key.
Prepare = Callable[[Services, Sequence[WorkItem]], Awaitable[Mapping[str, Mapping[str, Any]]]]


async def classify_batch(
    services: Services, items: Sequence[WorkItem]
) -> Mapping[str, Mapping[str, Any]]:
    """Classify the texts of a leased batch of flag items in one model call.

    The vectorizer is several times faster per text in a batch than one text at a time.
    """
    texts = {item.key: _text(item.payload) for item in items}
    wanted = [key for key, text in texts.items() if text.strip()]
    if not wanted:
        return {}
    predictions = await services.models.classify([texts[key] for key in wanted])
    return {key: {"prediction": p} for key, p in zip(wanted, predictions, strict=True)}


PREPARE: Mapping[str, Prepare] = {FLAG: classify_batch, FLAG_LONG: classify_batch}


def build_handlers(
    feedback_map: FeedbackMap = DEFAULT_FEEDBACK_MAP, *, extra: Mapping[str, Handler] | None = None
) -> dict[str, Handler]:
    """Return the handler of each work kind; reactions are rated by ``feedback_map``.

    ``extra`` adds the handlers of kinds done by other parts of the bot (forget-me, by admin).
    """

    async def mention(
        services: Services, client: AsyncWebClient, payload: Mapping[str, Any]
    ) -> None:
        await handle_mention(
            services, client, body=_body(payload), bot_user_id=_bot(payload), **_work(payload)
        )

    async def flag(services: Services, client: AsyncWebClient, payload: Mapping[str, Any]) -> None:
        await handle_message(
            services, client, body=_body(payload), bot_user_id=_bot(payload), **_work(payload)
        )

    async def reaction(
        services: Services, client: AsyncWebClient, payload: Mapping[str, Any]
    ) -> None:
        await handle_reaction(
            services,
            client,
            body=_body(payload),
            bot_user_id=_bot(payload),
            feedback_map=feedback_map,
        )

    async def try_again(
        services: Services, client: AsyncWebClient, payload: Mapping[str, Any]
    ) -> None:
        await handle_try_again(services, client, body=_body(payload), **_work(payload))

    return {
        MENTION: mention,
        FLAG: flag,
        REACTION: reaction,
        TRY_AGAIN: try_again,
        # The long lanes: the same work, with slots of their own (bot/work/kinds.py).
        MENTION_LONG: mention,
        FLAG_LONG: flag,
        **(extra or {}),
    }


def work_payload(body: Mapping[str, Any], *, bot_user_id: str) -> dict[str, Any]:
    """Return what a work item keeps of a Slack payload: the body (without its token)."""
    # Slack's deprecated verification token is a secret of sorts; the work never needs it.
    return {"body": {k: v for k, v in body.items() if k != "token"}, "bot_user_id": bot_user_id}


async def run_item(
    services: Services,
    item: WorkItem,
    handlers: Mapping[str, Handler],
    *,
    attempt: int = 1,
    prepared: Mapping[str, Any] | None = None,
) -> None:
    """Do one work item with its kind's handler and a Web API client of this process.

    ``prepared`` holds what the batch's :data:`PREPARE` step computed for this item.
    """
    make_client = services.make_work_client or services.make_client
    work = {"post_id": post_id(item.key), "attempt": attempt, **(prepared or {})}
    payload = {**item.payload, WORK: work}
    await handlers[item.kind](services, make_client(), payload)


def post_id(key: str) -> str:
    """Return the id of what the item of ``key`` posts and records: the same on every retry."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"sarcasm-bot:{key}").hex


def _work(payload: Mapping[str, Any]) -> dict[str, Any]:
    work = payload.get(WORK)
    return dict(work) if isinstance(work, Mapping) else {}


def _text(payload: Mapping[str, Any]) -> str:
    event = _body(payload).get("event")
    text = event.get("text") if isinstance(event, Mapping) else None
    return text if isinstance(text, str) else ""


def _body(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    body = payload.get("body")
    return body if isinstance(body, Mapping) else {}


def _bot(payload: Mapping[str, Any]) -> str:
    return str(payload.get("bot_user_id") or "")
