"""The durable work queue: one interface, with SQLite (embedded) and Pub/Sub (production)."""

from __future__ import annotations

from collections.abc import Sequence

from tuning.config import parse_queue_url
from tuning.errors import ConfigError
from tuning.queue.base import MAX_ATTEMPTS, Lease, WorkItem, WorkQueue
from tuning.records import Clock, utcnow
from tuning.store.base import Store

__all__ = ["MAX_ATTEMPTS", "Lease", "WorkItem", "WorkQueue", "open_queue"]


async def open_queue(
    url: str, *, clock: Clock = utcnow, store: Store | None = None, kinds: Sequence[str] = ()
) -> WorkQueue:
    """Build the queue a concrete QUEUE_URL names (``Settings.queue_url``), open and return it.

    ``sqlite:///PATH`` takes any kind. ``pubsub://PROJECT/TOPIC[?delivery=pull]`` needs the
    ``store`` (it keeps the dedupe markers) and the ``kinds`` to make topics for. Raise
    ConfigError naming QUEUE_URL for a bad URL, QueueError if the queue cannot be opened.
    """
    target = parse_queue_url(url)
    queue: WorkQueue
    if target.scheme == "sqlite":
        from tuning.queue.sqlite import SqliteQueue

        queue = SqliteQueue(target.path, clock=clock)
    else:
        if store is None or not kinds:
            raise ConfigError("QUEUE_URL", "a pubsub:// queue needs the store and its work kinds")
        from tuning.queue.pubsub import PubSubQueue  # loads the Pub/Sub SDK only when used

        queue = PubSubQueue(
            project=target.project,
            topic=target.topic,
            kinds=kinds,
            store=store,
            clock=clock,
            push=target.push,
        )
    try:
        await queue.open()
    except BaseException:  # even cancellation: close what was opened, then re-raise
        await queue.close()
        raise
    return queue
