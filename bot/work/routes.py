"""Which handler does each kind of work item: the payload the listener put, back as arguments."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.services import Services
from bot.work.event_work import event_of
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


async def prepare_flags(
    services: Services, items: Sequence[WorkItem]
) -> Mapping[str, Mapping[str, Any]]:
    """Look up what a leased batch of flag items needs in a few store calls, then classify.

    Which items are already recorded, whose writers opted out, and each channel's settings:
    asked one by one, these reads cost the worker more than the acks (bench/bench_events.py).
    The texts still to flag are classified in one model call: the vectorizer is several times
    faster per text in a batch than one text at a time.
    """
    store = services.store
    events = {item.key: _event(item.payload) for item in items}
    ids = {key: post_id(key) for key in events}
    recorded = await store.recorded_interactions(list(ids.values()))
    opted_out = await store.opted_out_among({str(e.get("user") or "") for e in events.values()})
    channels = {str(e.get("channel") or "") for e in events.values()} - {""}
    settings = {channel: await store.channel_settings(channel=channel) for channel in channels}
    prepared: dict[str, dict[str, Any]] = {}
    for key, event in events.items():
        channel = settings.get(str(event.get("channel") or ""))
        prepared[key] = {
            "recorded": ids[key] in recorded,
            "opted_out": str(event.get("user") or "") in opted_out,
            "channel_settings": channel,
        }
    # An opted-out writer's text is not even classified.
    texts = {item.key: _text(item.payload) for item in items if _wanted(prepared[item.key])}
    wanted = [key for key, text in texts.items() if text.strip()]
    if wanted:
        predictions = await services.models.classify([texts[key] for key in wanted])
        for key, prediction in zip(wanted, predictions, strict=True):
            prepared[key]["prediction"] = prediction
    return prepared


def _wanted(looked_up: Mapping[str, Any]) -> bool:
    channel = looked_up["channel_settings"]
    off = channel is None or channel.mode == "off"
    return not (looked_up["recorded"] or looked_up["opted_out"] or off)


PREPARE: Mapping[str, Prepare] = {FLAG: prepare_flags, FLAG_LONG: prepare_flags}


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


def _event(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    return event_of(_body(payload))


def _text(payload: Mapping[str, Any]) -> str:
    text = _event(payload).get("text")
    return text if isinstance(text, str) else ""


def _body(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    body = payload.get("body")
    return body if isinstance(body, Mapping) else {}


def _bot(payload: Mapping[str, Any]) -> str:
    return str(payload.get("bot_user_id") or "")
