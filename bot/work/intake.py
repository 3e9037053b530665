"""Put an event's work in the queue before Slack gets its answer; a queue that refuses means 503.

Slack redelivers whatever got a non-2xx, and never what got a 2xx: the ack waits for the put.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_bolt.async_app import AsyncBoltContext
from slack_bolt.response import BoltResponse

from bot.services import Services
from bot.work.event_work import Work, event_of
from bot.work.kinds import lane
from bot.work.routes import work_payload
from tuning.errors import QueueError
from tuning.queue.base import WorkItem, WorkQueue

log = logging.getLogger(__name__)

# Set on the Bolt context when the queue refused an item: SarcasmApp then answers 503, so Slack
# redelivers the event instead of taking a 200 for work that was never kept.
UNAVAILABLE = "work_queue_unavailable"
# Slack redelivers a non-2xx on its own schedule; the header says the refusal is temporary.
RETRY_AFTER_SECONDS = 5


def retry_later() -> BoltResponse:
    """Return the 503 that makes Slack deliver the request again: its work was not kept."""
    return BoltResponse(status=503, body="", headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


async def put_work(
    services: Services, work: Work, body: Mapping[str, Any], *, bot_user_id: str
) -> bool:
    """Durably put ``work`` for ``body`` (a repeated key is a no-op); False if the queue refused.

    Mentions and messages with a long text go to the long lane of their kind.
    """
    kind = lane(work.kind, _text(body))
    item = WorkItem(key=work.key, kind=kind, payload=work_payload(body, bot_user_id=bot_user_id))
    try:
        await _queue(services).put(item)
    except QueueError:
        log.warning("work queue refused an item; answering 503", extra={"kind": kind})
        return False
    services.wake(kind)
    return True


async def enqueue(
    services: Services, context: AsyncBoltContext, work: Work, body: Mapping[str, Any]
) -> None:
    """Put a Bolt listener's ``work``, or mark the context so that Slack gets a 503."""
    if not await put_work(services, work, body, bot_user_id=context.bot_user_id or ""):
        context[UNAVAILABLE] = True


def _queue(services: Services) -> WorkQueue:
    if services.queue is None:  # start_bot always gives one; without it nothing is kept
        raise QueueError("this bot process has no work queue")
    return services.queue


def _text(body: Mapping[str, Any]) -> str:
    text = event_of(body).get("text")
    return text if isinstance(text, str) else ""
