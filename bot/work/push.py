"""POST /pubsub/push: Pub/Sub delivers one work item per request; the answer acks or nacks it.

With ``QUEUE_URL=pubsub://PROJECT/TOPIC`` (push delivery) nothing leases: Pub/Sub POSTs each
item here (https://cloud.google.com/pubsub/docs/push), the item runs inside the request with
the worker's handlers, and then a 204 acks it. A failure answers non-2xx (503, or 429 when Slack
rate-limited us), which Pub/Sub redelivers after the subscription's backoff and dead-letters
after its ``--max-delivery-attempts``. A malformed envelope is a 400, a caller without Pub/Sub's
token a 401 or 403, before any work runs. Running inside a request is also what makes Cloud Run
allocate CPU to the work without ``--no-cpu-throttling``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from bot.services import Services
from bot.transports.push_auth import PushAuthUnavailable, PushVerifier
from bot.transports.slack_client import retry_after
from bot.work.kinds import FLAG, FLAG_LONG, MENTION, MENTION_LONG, REACTION, TRY_AGAIN
from bot.work.routes import Handler, run_item
from tuning.errors import PushError
from tuning.queue.push import decode_push

log = logging.getLogger(__name__)

PUSH_PATH = "/pubsub/push"
# Items of one kind running at once in this process; more wait inside their request (Cloud
# Run's --concurrency bounds the requests). Model calls hold the GIL, store writes do not.
PUSH_LIMITS: Mapping[str, int] = {
    MENTION: 2,
    FLAG: 4,
    REACTION: 8,
    TRY_AGAIN: 1,
    MENTION_LONG: 1,
    FLAG_LONG: 1,
}
# Keys whose deliveries this process counted (bounded): see Deliveries.
REMEMBERED_KEYS = 10_000


class Deliveries:
    """Count the deliveries of each key this process saw, for envelopes that do not say.

    Pub/Sub sets ``deliveryAttempt`` only on subscriptions with a dead-letter policy (the
    emulator never does). A handler told attempt 1 posts without looking in the thread first, so
    a redelivery after a lost answer must not look like a first delivery.
    """

    def __init__(self, size: int = REMEMBERED_KEYS) -> None:
        self._seen: OrderedDict[str, int] = OrderedDict()
        self._size = size

    def attempt(self, key: str, told: int) -> int:
        """Record one delivery of ``key``; return the larger of ``told`` and the count here."""
        count = self._seen.pop(key, 0) + 1
        self._seen[key] = count
        while len(self._seen) > self._size:
            self._seen.popitem(last=False)
        return max(told, count)


def push_handler(
    services: Services,
    handlers: Mapping[str, Handler],
    *,
    verifier: PushVerifier | None,
    limits: Mapping[str, int] = PUSH_LIMITS,
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Return the aiohttp handler of :data:`PUSH_PATH`.

    ``verifier`` None takes requests without a token: only for the Pub/Sub emulator.
    """
    gates = {kind: asyncio.Semaphore(limits.get(kind, 1)) for kind in handlers}
    deliveries = Deliveries()

    async def push(request: web.Request) -> web.StreamResponse:
        if verifier is not None:
            try:
                refused = await verifier.status(request.headers.get("Authorization"))
            except PushAuthUnavailable:
                log.warning("cannot check push tokens now; Pub/Sub will redeliver", exc_info=True)
                return web.json_response({"error": "cannot check the token"}, status=503)
            if refused is not None:
                return web.json_response({"error": "not Pub/Sub"}, status=refused)
        try:
            item, told = decode_push(await request.read())
        except PushError as exc:
            log.info("rejected a push request: %s", exc)
            return web.json_response({"error": "malformed push envelope"}, status=400)
        if item.kind not in handlers:
            # Not ours: nacked until it reaches the dead letters, where an operator sees it.
            log.warning("push of an unknown kind", extra={"kind": item.kind})
            return web.json_response({"error": "unknown kind"}, status=400)
        if item.not_before is not None and item.not_before > services.store.clock():
            return web.json_response({"error": "not yet"}, status=429)
        attempt = deliveries.attempt(item.key, told)
        async with gates[item.kind]:
            try:
                await run_item(services, item, handlers, attempt=attempt)
            except Exception as exc:
                if retry_after(exc) is not None:
                    # Pub/Sub's backoff, not Slack's Retry-After, sets when it comes back.
                    log.info("rate limited; nacking the push", extra={"kind": item.kind})
                    return web.json_response({"error": "rate limited"}, status=429)
                log.exception("work failed", extra={"kind": item.kind, "attempt": attempt})
                return web.json_response({"error": "work failed"}, status=503)
        return web.Response(status=204)

    return push
