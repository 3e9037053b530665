"""What only the Pub/Sub queue promises: kinds are topics, push mode, the Store keeps its keys.

Runs on the real emulator. The emulator ignores subscription filters (so kinds are topics) and
forwards to the dead-letter topic only when the subscription is next pulled.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from google.api_core import exceptions as api_errors

from tests.clock import ManualClock
from tests.contract.test_queue import KINDS, PUBSUB_PROJECT, make_pubsub
from tuning.errors import ConfigError, QueueError
from tuning.queue import open_queue
from tuning.queue.base import WorkItem
from tuning.queue.pubsub import PubSubQueue
from tuning.queue.push import decode_push
from tuning.store.sqlite.store import SqliteStore

pytestmark = pytest.mark.emulator
MINUTE = timedelta(minutes=1)


@pytest.fixture
async def queue(
    pubsub_emulator: str, sqlite_store: SqliteStore, clock: ManualClock
) -> AsyncIterator[PubSubQueue]:
    queue = await make_pubsub(sqlite_store, clock, f"work-{uuid.uuid4().hex[:10]}")
    assert isinstance(queue, PubSubQueue)
    yield queue
    await queue.close()


async def test_a_kind_without_a_topic_is_refused_not_dropped(queue: PubSubQueue) -> None:
    with pytest.raises(QueueError, match="no Pub/Sub topic"):
        await queue.put(WorkItem(key="e1", kind="mystery"))


async def test_depth_is_left_to_cloud_monitoring(queue: PubSubQueue) -> None:
    await queue.put(WorkItem(key="e1", kind="reply"))
    assert await queue.depth() is None


async def test_put_and_probe_fail_when_the_store_cannot_take_the_key(
    queue: PubSubQueue, sqlite_store: SqliteStore
) -> None:
    assert await queue.probe()
    await sqlite_store.close()
    assert not await queue.probe()
    with pytest.raises(QueueError, match="cannot put 'e1'"):
        await queue.put(WorkItem(key="e1", kind="reply"))


async def test_a_pulled_message_decodes_through_the_push_envelope(queue: PubSubQueue) -> None:
    sent = WorkItem(key="e1", kind="flag", payload={"text": "ünïcode", "n": [1, 2]})
    await queue.put(sent)
    assert queue._subscriber is not None
    response = await queue._subscriber.pull(
        subscription=queue.subscription_path(".flag"), max_messages=1, timeout=10
    )
    [received] = response.received_messages
    envelope = {
        "message": {
            "data": base64.b64encode(received.message.data).decode(),
            "attributes": dict(received.message.attributes),
            "messageId": received.message.message_id,
        },
        "subscription": queue.subscription_path(".flag"),
        "deliveryAttempt": received.delivery_attempt,
    }
    assert decode_push(json.dumps(envelope).encode()) == (sent, 1)


async def test_push_mode_makes_topics_but_no_pull_subscriptions(
    pubsub_emulator: str, sqlite_store: SqliteStore, clock: ManualClock
) -> None:
    topic = f"push-{uuid.uuid4().hex[:10]}"
    queue = await open_queue(
        f"pubsub://{PUBSUB_PROJECT}/{topic}", clock=clock, store=sqlite_store, kinds=KINDS
    )
    try:
        assert isinstance(queue, PubSubQueue)
        assert queue.push
        assert await queue.put(WorkItem(key="e1", kind="reply"))
        assert queue._subscriber is not None
        await queue._subscriber.get_subscription(subscription=queue.subscription_path("-dead"))
        with pytest.raises(api_errors.NotFound):
            await queue._subscriber.get_subscription(subscription=queue.subscription_path(".reply"))
        with pytest.raises(QueueError, match="push"):
            await queue.lease(ttl=MINUTE, holder="t")
    finally:
        await queue.close()


async def test_open_is_idempotent(
    pubsub_emulator: str, sqlite_store: SqliteStore, clock: ManualClock
) -> None:
    topic = f"again-{uuid.uuid4().hex[:10]}"
    first = await make_pubsub(sqlite_store, clock, topic)
    second = await make_pubsub(sqlite_store, clock, topic)
    await first.close()
    await second.close()


async def test_open_queue_needs_the_store_and_kinds_for_pubsub(clock: ManualClock) -> None:
    with pytest.raises(ConfigError, match=r"^QUEUE_URL: .*store and its work kinds"):
        await open_queue("pubsub://p/work", clock=clock)
