"""The production queue on Google Cloud Pub/Sub, with the SDK's asyncio (grpc.aio) clients.

Layout, for ``pubsub://PROJECT/TOPIC`` and the kinds the bot declares:

- one topic ``TOPIC.KIND`` per kind, so that a worker can lease one kind (the emulator ignores
  subscription filters, so kinds are topics rather than filters on one topic);
- per kind, a pull subscription ``TOPIC.KIND`` with exactly-once delivery, a dead-letter
  policy (``max_attempts`` deliveries) and a retry policy with exponential backoff; in push
  mode these are push subscriptions made with gcloud instead (they need the endpoint);
- ``TOPIC-dead``: the dead-letter topic and its subscription (a topic without a subscription
  drops what is published to it); ``TOPIC-probe``: a topic without subscriptions for
  :meth:`PubSubQueue.probe` to publish to.

Pub/Sub does not dedupe by key, so :meth:`PubSubQueue.put` keeps a marker claim per key in the
Store. A lease is a pull whose ack deadline is then set to the ttl; ``done`` acks;
``retry(delay)`` sets the ack deadline to the delay; ``attempt`` is Pub/Sub's delivery attempt.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from datetime import timedelta

from google.api_core import exceptions as api_errors
from google.api_core.retry import AsyncRetry, if_exception_type
from google.pubsub_v1 import PublisherAsyncClient, SubscriberAsyncClient, types

from tuning.errors import QueueError, SarcasmError
from tuning.queue.base import (
    DEDUPE_WINDOW,
    MAX_ATTEMPTS,
    MAX_LEASE,
    Lease,
    WorkItem,
    WorkQueue,
    check_ttl,
)
from tuning.queue.push import decode_item, encode_item
from tuning.records import Clock, utcnow
from tuning.store.base import Store

__all__ = ["PubSubQueue"]

# Pub/Sub's resource names: https://cloud.google.com/pubsub/docs/pubsub-basics#resource_names
NAME = re.compile(r"[A-Za-z][-A-Za-z0-9_.~+%]{2,200}")
KIND = re.compile(r"[A-Za-z0-9_~+%-]{1,40}")
# With exactly-once delivery an ack of a stale ack id fails with this reason; it means the
# lease had expired (and the message was or will be delivered again): not an error for us.
STALE_ACK = "EXACTLY_ONCE_ACKID_FAILURE"
TRANSIENT = if_exception_type(
    api_errors.ServiceUnavailable,
    api_errors.InternalServerError,
    api_errors.Aborted,
    api_errors.Unknown,
)


class PubSubQueue(WorkQueue):
    """A :class:`WorkQueue` on Pub/Sub topics per kind; put dedupes through ``store`` claims."""

    def __init__(
        self,
        *,
        project: str,
        topic: str,
        kinds: Sequence[str],
        store: Store,
        clock: Clock = utcnow,
        push: bool = False,
        max_attempts: int = MAX_ATTEMPTS,
        min_backoff: timedelta = timedelta(seconds=10),
        max_backoff: timedelta = timedelta(seconds=600),
        dedupe_window: timedelta = DEDUPE_WINDOW,
        pull_wait: float = 2.0,
        call_timeout: float = 5.0,
    ) -> None:
        if not project or not NAME.fullmatch(topic):
            raise QueueError(f"QUEUE_URL: {project!r}/{topic!r} is not a project and topic name")
        bad = [kind for kind in kinds if not KIND.fullmatch(kind)]
        if bad or not kinds:
            raise QueueError(f"Pub/Sub kinds must be 1-40 of [A-Za-z0-9_~+%-], not {bad or kinds}")
        if not 5 <= max_attempts <= 100:
            raise QueueError("Pub/Sub dead-letters after 5 to 100 delivery attempts")
        self.project, self.topic, self.kinds = project, topic, tuple(kinds)
        self.store, self.clock, self.push = store, clock, push
        self.max_attempts, self.dedupe_window = max_attempts, dedupe_window
        self.min_backoff, self.max_backoff = min_backoff, max_backoff
        self.pull_wait, self.call_timeout = pull_wait, call_timeout
        self._publisher: PublisherAsyncClient | None = None
        self._subscriber: SubscriberAsyncClient | None = None
        # Deliveries counted here when Pub/Sub does not count them (no dead-letter policy).
        self._deliveries: Counter[str] = Counter()

    # -- names ---------------------------------------------------------------------------------

    def topic_path(self, suffix: str) -> str:
        """Return ``projects/P/topics/TOPIC<suffix>``."""
        return f"projects/{self.project}/topics/{self.topic}{suffix}"

    def subscription_path(self, suffix: str) -> str:
        """Return ``projects/P/subscriptions/TOPIC<suffix>``."""
        return f"projects/{self.project}/subscriptions/{self.topic}{suffix}"

    def _marker(self, key: str) -> str:
        return f"queue:{self.project}/{self.topic}:{key}"

    # -- lifecycle -----------------------------------------------------------------------------

    async def open(self) -> None:
        """Create the clients, topics and subscriptions that are missing; idempotent.

        Existing subscriptions are left as they are (gcloud or a console may have tuned them).
        """
        # The clients bind to the running loop (grpc.aio), so they are made here, not in
        # __init__. Both honour PUBSUB_EMULATOR_HOST.
        self._publisher = self._publisher or PublisherAsyncClient()
        self._subscriber = self._subscriber or SubscriberAsyncClient()
        publisher, subscriber = self._publisher, self._subscriber
        for suffix in ("-dead", "-probe", *(f".{kind}" for kind in self.kinds)):
            await self._ensure(publisher.create_topic(name=self.topic_path(suffix)))
        dead = types.Subscription(
            name=self.subscription_path("-dead"), topic=self.topic_path("-dead")
        )
        await self._ensure(subscriber.create_subscription(request=dead))
        if self.push:
            return  # push subscriptions need the endpoint and its service account: gcloud
        for kind in self.kinds:
            await self._ensure(subscriber.create_subscription(request=self._pull_spec(kind)))

    def _pull_spec(self, kind: str) -> types.Subscription:
        return types.Subscription(
            name=self.subscription_path(f".{kind}"),
            topic=self.topic_path(f".{kind}"),
            ack_deadline_seconds=60,  # until lease() sets the caller's ttl
            enable_exactly_once_delivery=True,  # no redelivery while a lease is live
            dead_letter_policy=types.DeadLetterPolicy(
                dead_letter_topic=self.topic_path("-dead"),
                max_delivery_attempts=self.max_attempts,
            ),
            retry_policy=types.RetryPolicy(
                minimum_backoff=self.min_backoff,
                maximum_backoff=self.max_backoff,
            ),
        )

    def push_spec(
        self, kind: str, *, endpoint: str, service_account: str = ""
    ) -> types.Subscription:
        """Return the push subscription of ``kind`` to ``endpoint``, as the README's gcloud does.

        ``service_account`` signs each push with an OIDC token whose audience is ``endpoint``.
        """
        spec = self._pull_spec(kind)
        spec.enable_exactly_once_delivery = False  # a pull feature; push gets no such promise
        spec.ack_deadline_seconds = 600  # how long a push request may run
        oidc = types.PushConfig.OidcToken(service_account_email=service_account, audience=endpoint)
        spec.push_config = types.PushConfig(
            push_endpoint=endpoint, oidc_token=oidc if service_account else None
        )
        return spec

    async def subscribe_push(self, *, endpoint: str, service_account: str = "") -> None:
        """Create each kind's push subscription to ``endpoint`` that is missing (tests, setup).

        Production makes them with gcloud (see the README); this makes the same ones.
        """
        _, subscriber = self._clients()
        for kind in self.kinds:
            spec = self.push_spec(kind, endpoint=endpoint, service_account=service_account)
            await self._ensure(subscriber.create_subscription(request=spec))

    async def _ensure(self, creating: Awaitable[object]) -> None:
        try:
            await creating
        except api_errors.AlreadyExists:
            pass
        except api_errors.GoogleAPICallError as exc:
            raise QueueError(f"Pub/Sub {self.project}/{self.topic}: cannot create: {exc}") from exc

    async def close(self) -> None:
        """Close the gRPC channels; leased messages are redelivered after their deadlines."""
        for client in (self._publisher, self._subscriber):
            if client is not None:
                # The generated transport leaves close() unannotated.
                await client.transport.close()  # type: ignore[no-untyped-call]
        self._publisher = self._subscriber = None

    def _clients(self) -> tuple[PublisherAsyncClient, SubscriberAsyncClient]:
        if self._publisher is None or self._subscriber is None:
            raise QueueError(f"Pub/Sub queue {self.topic} is not open")
        return self._publisher, self._subscriber

    def _retry(self) -> AsyncRetry:
        # The SDK's default retries publish for up to 600 s; the ack to Slack cannot wait.
        return AsyncRetry(predicate=TRANSIENT, initial=0.1, maximum=1.0, timeout=self.call_timeout)

    # -- the queue -----------------------------------------------------------------------------

    async def put(self, item: WorkItem) -> bool:
        """Publish ``item`` (acked by Pub/Sub before this returns) unless its key is known.

        A key is known while its marker claim in the Store lives (``dedupe_window`` from its
        put). The marker is taken after the publish, so a crash in between leaves a duplicate
        message (the worker's effects are idempotent), never a lost one.
        """
        if item.kind not in self.kinds:
            raise QueueError(f"kind {item.kind!r} has no Pub/Sub topic (known: {self.kinds})")
        if item.not_before is not None and item.not_before - self.clock() > MAX_LEASE:
            raise QueueError(f"Pub/Sub holds an item back at most {MAX_LEASE}")
        publisher, _ = self._clients()
        marker = self._marker(item.key)
        try:
            # A claim with no ttl is expired at once: it only asks whether the key is known.
            if not await self.store.claim(marker, ttl=timedelta(0)):
                return False
            response = await publisher.publish(
                topic=self.topic_path(f".{item.kind}"),
                messages=[
                    types.PubsubMessage(data=encode_item(item), attributes={"kind": item.kind})
                ],
                retry=self._retry(),
                timeout=self.call_timeout,
            )
            return await self.store.claim(
                marker, ttl=self.dedupe_window, holder=response.message_ids[0]
            )
        except (api_errors.GoogleAPICallError, api_errors.RetryError, SarcasmError) as exc:
            if isinstance(exc, QueueError):
                raise
            raise QueueError(f"cannot put {item.key!r} on Pub/Sub: {exc}") from exc

    async def lease(
        self, *, kinds: Sequence[str] | None = None, limit: int = 1, ttl: timedelta, holder: str
    ) -> list[Lease]:
        """Pull up to ``limit`` messages (of ``kinds``, or any) and hold them for ``ttl``.

        Each kind's pull waits up to ``pull_wait`` seconds for a message. Pub/Sub keeps no
        order across messages, so "oldest first" holds only roughly.
        """
        if self.push:
            raise QueueError("this Pub/Sub queue delivers by push: items arrive at the endpoint")
        check_ttl(ttl)
        leases: list[Lease] = []
        for kind in self.kinds if kinds is None else kinds:
            if len(leases) >= limit:
                break
            if kind in self.kinds:
                leases += await self._lease_kind(kind, limit - len(leases), ttl)
        return leases

    async def _lease_kind(self, kind: str, limit: int, ttl: timedelta) -> list[Lease]:
        subscription = self.subscription_path(f".{kind}")
        received = await self._pull(subscription, limit)
        if not received:
            return []
        now = self.clock()
        expires = now + ttl
        leases: list[Lease] = []
        later: dict[int, list[str]] = {}  # not yet due: held back this many seconds
        for message in received:
            try:
                item = decode_item(message.message.data)
            except QueueError:
                later.setdefault(0, []).append(message.ack_id)  # not ours: on to the dead letters
                continue
            if item.not_before is not None and item.not_before > now:
                wait = math.ceil((item.not_before - now).total_seconds())
                later.setdefault(min(wait, 600), []).append(message.ack_id)
                continue
            attempt = message.delivery_attempt or self._count(message.message.message_id)
            leases.append(Lease(item, message.ack_id, attempt, expires))
        seconds = math.ceil(ttl.total_seconds())
        groups = [(seconds, [lease.token for lease in leases]), *later.items()]
        for deadline, ack_ids in groups:
            if ack_ids:
                await self._modify(subscription, ack_ids, deadline)
        return leases

    def _count(self, message_id: str) -> int:
        self._deliveries[message_id] += 1
        return self._deliveries[message_id]

    async def _pull(self, subscription: str, limit: int) -> list[types.ReceivedMessage]:
        _, subscriber = self._clients()
        try:
            response = await subscriber.pull(
                subscription=subscription, max_messages=limit, timeout=self.pull_wait
            )
        except api_errors.DeadlineExceeded:
            return []  # nothing arrived within pull_wait
        except api_errors.GoogleAPICallError as exc:
            raise QueueError(f"cannot pull from {subscription}: {exc}") from exc
        return list(response.received_messages)

    async def _modify(self, subscription: str, ack_ids: list[str], seconds: int) -> None:
        _, subscriber = self._clients()
        await self._settle(
            subscriber.modify_ack_deadline(
                subscription=subscription,
                ack_ids=ack_ids,
                ack_deadline_seconds=seconds,
                retry=self._retry(),
                timeout=self.call_timeout,
            ),
            f"extend the lease on {subscription}",
        )

    async def _settle(self, call: Awaitable[object], what: str) -> None:
        try:
            await call
        except api_errors.GoogleAPICallError as exc:
            if exc.reason == STALE_ACK:
                return  # the lease had expired; the message is someone else's now
            raise QueueError(f"cannot {what}: {exc}") from exc
        except api_errors.RetryError as exc:
            raise QueueError(f"cannot {what}: {exc}") from exc

    async def done(self, lease: Lease) -> None:
        """Ack the message; a lease that expired since is ignored."""
        _, subscriber = self._clients()
        subscription = self.subscription_path(f".{lease.item.kind}")
        await self._settle(
            subscriber.acknowledge(
                subscription=subscription,
                ack_ids=[lease.token],
                retry=self._retry(),
                timeout=self.call_timeout,
            ),
            f"ack on {subscription}",
        )

    async def retry(self, lease: Lease, *, delay: timedelta) -> None:
        """Set the message's ack deadline to ``delay`` (at most 600 s); the last attempt dies.

        Redelivery then waits for the retry policy's backoff too.
        """
        subscription = self.subscription_path(f".{lease.item.kind}")
        last = lease.attempt >= self.max_attempts
        seconds = 0 if last else min(max(math.ceil(delay.total_seconds()), 0), 600)
        await self._modify(subscription, [lease.token], seconds)

    async def depth(self) -> Mapping[str, int] | None:
        """Return None: Pub/Sub's backlog is the Cloud Monitoring metric
        ``pubsub.googleapis.com/subscription/num_undelivered_messages``."""
        return None

    async def dead_letters(self, *, limit: int = 100) -> list[WorkItem]:
        """Pull up to ``limit`` dead items and hand them straight back, so they stay."""
        subscription = self.subscription_path("-dead")
        received = await self._pull(subscription, limit)
        if received:
            await self._modify(subscription, [message.ack_id for message in received], 0)
        received.sort(key=lambda message: message.message.publish_time)
        return list(_decoded(message.message.data for message in received))

    async def probe(self) -> bool:
        """Return True when a heartbeat can be published and the Store can take the marker."""
        try:
            publisher, _ = self._clients()
            await publisher.publish(
                topic=self.topic_path("-probe"),
                messages=[types.PubsubMessage(data=b"probe")],
                retry=self._retry(),
                timeout=self.call_timeout,
            )
            await self.store.claim(self._marker("-probe"), ttl=timedelta(0))
        except (api_errors.GoogleAPICallError, api_errors.RetryError, SarcasmError):
            return False
        return True


def _decoded(datas: Iterable[bytes]) -> Iterable[WorkItem]:
    for data in datas:
        try:
            yield decode_item(data)
        except QueueError:
            continue  # not one of ours: an operator sees it in the console
