"""HTTP mode on aiohttp: POST /slack/events (Slack), GET /healthz (readiness) and /live.

The runtime may add more POST routes (Pub/Sub push delivery, bot/work/push.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.services import Services
from bot.transports.request_checks import is_signed, parse_body
from tuning.errors import QueueError

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
# The liveness probe's path: 200 whenever the process serves HTTP, whatever the store does, so a
# store outage never makes Cloud Run restart healthy instances. No "z" at the end: Cloud Run
# reserves some paths ending in z (https://cloud.google.com/run/docs/known-issues).
LIVE_PATH = "/live"
# Slack's payloads are a few KB; a megabyte leaves room for big Block Kit views and no more.
MAX_BODY_BYTES = 1024 * 1024
HEALTH_TIMEOUT_SECONDS = 2.0
# A claim that is expired as soon as it is taken: each probe rewrites the same row.
HEALTH_PROBE_TTL = timedelta(0)


RequestHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# Answers a verified, parsed JSON body without Bolt's dispatch, or returns None for Bolt to.
HotPath = Callable[[Mapping[str, Any]], Awaitable[BoltResponse | None]]


def build_web_app(
    app: AsyncApp,
    services: Services,
    *,
    posts: Mapping[str, RequestHandler] | None = None,
    hot: HotPath | None = None,
) -> web.Application:
    """Return the aiohttp application serving Slack requests, the health check and ``posts``.

    ``hot`` takes the events it can answer without Bolt (bot/work/hot_events.py).
    """

    async def healthz(request: web.Request) -> web.StreamResponse:
        return await health_response(services)

    web_app = web.Application(client_max_size=MAX_BODY_BYTES)
    secret = services.settings.slack.signing_secret
    web_app.router.add_post(EVENTS_PATH, events_handler(app, signing_secret=secret, hot=hot))
    web_app.router.add_get(HEALTH_PATH, healthz)
    web_app.router.add_get(LIVE_PATH, live)
    for path, handler in (posts or {}).items():
        web_app.router.add_post(path, handler)
    return web_app


async def live(request: web.Request) -> web.Response:
    """Answer the liveness probe: 200, without asking the store or the models."""
    return web.json_response({"ok": True})


def events_handler(
    app: AsyncApp, *, signing_secret: str, hot: HotPath | None = None
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Return the aiohttp handler that passes Slack requests to ``app`` and answers Slack.

    The signature is checked first (401), then whether Bolt can parse the body (400); only then
    does Bolt see the request. An empty ``signing_secret`` leaves signing to Bolt (tests).
    ``hot`` answers the JSON bodies it takes (verified here) without Bolt's dispatch.
    """

    async def events(request: web.Request) -> web.StreamResponse:
        raw = await request.read()  # aiohttp's own 413 for bodies over MAX_BODY_BYTES
        signed = is_signed(raw, request.headers, signing_secret=signing_secret, now=time.time())
        if signing_secret and not signed:
            return web.json_response({"error": "invalid signature"}, status=401)
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            body = None
        parsed = None if body is None else parse_body(body, request.content_type)
        if parsed is None:
            # Invalid UTF-8, JSON or form encoding, or nesting too deep: Bolt would answer 500.
            log.info("rejected a malformed request", extra={"bytes": len(raw)})
            return web.json_response({"error": "malformed request"}, status=400)
        if hot is not None and signed and isinstance(parsed, dict):
            answer = await hot(parsed)
            if answer is not None:
                return hot_response(answer)
        try:
            bolt_request = AsyncBoltRequest(
                body=body or "", query=request.query_string, headers=_headers(request)
            )
        except (ValueError, TypeError, AttributeError, KeyError, RecursionError):
            log.info("rejected a malformed request", extra={"bytes": len(raw)})
            return web.json_response({"error": "malformed request"}, status=400)
        return await to_aiohttp_response(await app.async_dispatch(bolt_request))

    return events


def hot_response(answer: BoltResponse) -> web.Response:
    """Return the hot path's answer (no body, no cookies) as Bolt's aiohttp adapter would.

    The adapter (``to_aiohttp_response``) parses content types and cookies for every answer;
    an ack has neither, and this runs for nearly every request.
    """
    headers = {name: values[0] for name, values in answer.headers.items() if name != "content-type"}
    return web.Response(
        status=answer.status, body=answer.body, headers=headers, content_type="text/plain"
    )


async def health_response(services: Services) -> web.Response:
    """Return 200 when the store and the queue can take a write, else 503; with queue depth."""
    store_ok = await _healthy(_store_takes_a_write(services), "store")
    queue = services.queue
    queue_ok = queue is None or await _healthy(queue.probe(), "queue")
    depth: dict[str, int] = {}
    if queue is not None and queue_ok:
        # Depth is a metric; the probe above decides health. None: the queue cannot count.
        try:
            counted = await asyncio.wait_for(queue.depth(), HEALTH_TIMEOUT_SECONDS)
        except (QueueError, TimeoutError) as exc:
            log.warning("health check: queue depth unavailable (%s)", type(exc).__name__)
            counted = None
        depth = dict(counted or {})
    ok = store_ok and queue_ok
    payload: dict[str, Any] = {
        "ok": ok,
        "store": "ok" if store_ok else "unavailable",
        "queue": "ok" if queue_ok else "unavailable",
        "depth": depth,
        "models": dict(services.models.versions),
        "pending": services.tasks.pending,
    }
    return web.json_response(payload, status=200 if ok else 503)


async def _store_takes_a_write(services: Services) -> bool:
    # A write, not a read: a full disk or a read-only store still answers SELECT 1.
    return await services.store.claim(
        f"health:{services.instance}", ttl=HEALTH_PROBE_TTL, holder=services.instance
    )


async def _healthy(check: Awaitable[bool], what: str) -> bool:
    try:
        return bool(await asyncio.wait_for(check, HEALTH_TIMEOUT_SECONDS))
    except Exception:  # a broken store or queue is exactly what this endpoint reports
        log.warning("health check: %s did not take a write", what, exc_info=True)
        return False


def _headers(request: web.Request) -> dict[str, str | Sequence[str]]:
    headers: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        headers.setdefault(name.lower(), []).append(value)
    return dict(headers)


class HttpTransport:
    """Serve the app on ``host``:``port`` until stopped; port 0 picks a free one."""

    def __init__(self, web_app: web.Application, *, host: str, port: int) -> None:
        self.stopping = False
        web_app.middlewares.append(self._refuse_when_stopping)
        self._runner = web.AppRunner(web_app, access_log=None, handle_signals=False)
        self._host, self._port = host, port
        self._site: web.TCPSite | None = None

    @web.middleware
    async def _refuse_when_stopping(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        # Once stopping, nothing is acknowledged: Slack redelivers what gets a non-2xx.
        if self.stopping and request.path != LIVE_PATH:
            response = web.json_response({"error": "shutting down"}, status=503)
            response.force_close()
            return response
        return await handler(request)

    @property
    def port(self) -> int:
        """Return the port actually bound (after start)."""
        server = self._site._server if self._site else None
        sockets = getattr(server, "sockets", None) or []
        return int(sockets[0].getsockname()[1]) if sockets else self._port

    async def start(self) -> None:
        """Start listening."""
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self._host, self._port)
        await self._site.start()
        self._port = self.port  # remembered: the socket goes at stop
        log.info("listening", extra={"host": self._host, "port": self.port})

    async def stop_accepting(self) -> None:
        """Answer 503 from now on, close idle keep-alive connections and the listening socket.

        Requests already being handled still finish (and close their connection after).
        """
        self.stopping = True
        if self._runner.server is not None:
            self._runner.server.pre_shutdown()
        if self._site is not None:
            site, self._site = self._site, None
            await site.stop()

    async def close(self) -> None:
        """Shut the server down completely."""
        await self._runner.cleanup()
