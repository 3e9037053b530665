"""Put a listener's work in the queue before Bolt answers Slack; a queue that refuses means 503."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_bolt.async_app import AsyncBoltContext

from bot.services import Services
from bot.work.kinds import lane
from bot.work.routes import work_payload
from tuning.errors import QueueError
from tuning.queue.base import WorkItem, WorkQueue

log = logging.getLogger(__name__)

# Set on the Bolt context when the queue refused an item: SarcasmApp then answers 503, so Slack
# redelivers the event instead of taking a 200 for work that was never kept.
UNAVAILABLE = "work_queue_unavailable"


async def enqueue(
    services: Services,
    context: AsyncBoltContext,
    *,
    kind: str,
    key: str,
    body: Mapping[str, Any],
) -> None:
    """Durably put the work of ``body`` under ``key`` (a repeated key is a no-op), or flag 503.

    Mentions and messages with a long text go to the long lane of their kind.
    """
    kind = lane(kind, _text(body))
    item = WorkItem(key=key, kind=kind, payload=work_payload(body, bot_user_id=_bot(context)))
    try:
        await _queue(services).put(item)
    except QueueError:
        log.warning("work queue refused an item; answering 503", extra={"kind": kind})
        context[UNAVAILABLE] = True
        return
    services.wake(kind)


def _queue(services: Services) -> WorkQueue:
    if services.queue is None:  # start_bot always gives one; without it nothing is kept
        raise QueueError("this bot process has no work queue")
    return services.queue


def _text(body: Mapping[str, Any]) -> str:
    event = body.get("event")
    text = event.get("text") if isinstance(event, Mapping) else None
    return text if isinstance(text, str) else ""


def _bot(context: AsyncBoltContext) -> str:
    return context.bot_user_id or ""
