"""HTTP mode on aiohttp: POST /slack/events (Slack), GET /healthz (readiness) and /live."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.services import Services
from bot.transports.request_checks import body_is_parsable, is_signed

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


def build_web_app(app: AsyncApp, services: Services) -> web.Application:
    """Return the aiohttp application serving Slack requests and the health check."""

    async def healthz(request: web.Request) -> web.StreamResponse:
        return await health_response(services)

    web_app = web.Application(client_max_size=MAX_BODY_BYTES)
    secret = services.settings.slack.signing_secret
    web_app.router.add_post(EVENTS_PATH, events_handler(app, signing_secret=secret))
    web_app.router.add_get(HEALTH_PATH, healthz)
    web_app.router.add_get(LIVE_PATH, live)
    return web_app


async def live(request: web.Request) -> web.Response:
    """Answer the liveness probe: 200, without asking the store or the models."""
    return web.json_response({"ok": True})


def events_handler(
    app: AsyncApp, *, signing_secret: str
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Return the aiohttp handler that passes Slack requests to ``app`` and answers Slack.

    The signature is checked first (401), then whether Bolt can parse the body (400); only then
    does Bolt see the request. An empty ``signing_secret`` leaves signing to Bolt (tests).
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
        if body is None or not body_is_parsable(body, request.content_type):
            # Invalid UTF-8, JSON or form encoding, or nesting too deep: Bolt would answer 500.
            log.info("rejected a malformed request", extra={"bytes": len(raw)})
            return web.json_response({"error": "malformed request"}, status=400)
        try:
            bolt_request = AsyncBoltRequest(
                body=body, query=request.query_string, headers=_headers(request)
            )
        except (ValueError, TypeError, AttributeError, KeyError, RecursionError):
            log.info("rejected a malformed request", extra={"bytes": len(raw)})
            return web.json_response({"error": "malformed request"}, status=400)
        return await to_aiohttp_response(await app.async_dispatch(bolt_request))

    return events


async def health_response(services: Services) -> web.Response:
    """Return 200 with the active model versions when the store answers, else 503."""
    try:
        store_ok = await asyncio.wait_for(services.store.ping(), HEALTH_TIMEOUT_SECONDS)
    except Exception:  # a broken store is exactly what this endpoint reports
        log.warning("health check: store did not answer", exc_info=True)
        store_ok = False
    payload: dict[str, Any] = {
        "ok": store_ok,
        "store": "ok" if store_ok else "unavailable",
        "models": dict(services.models.versions),
        "pending": services.tasks.pending,
    }
    return web.json_response(payload, status=200 if store_ok else 503)


def _headers(request: web.Request) -> dict[str, str | Sequence[str]]:
    headers: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        headers.setdefault(name.lower(), []).append(value)
    return dict(headers)


class HttpTransport:
    """Serve the app on ``host``:``port`` until stopped; port 0 picks a free one."""

    def __init__(self, web_app: web.Application, *, host: str, port: int) -> None:
        self._runner = web.AppRunner(web_app, access_log=None, handle_signals=False)
        self._host, self._port = host, port
        self._site: web.TCPSite | None = None

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
        log.info("listening", extra={"host": self._host, "port": self.port})

    async def stop_accepting(self) -> None:
        """Close the listening socket; requests already accepted still finish."""
        if self._site is not None:
            await self._site.stop()

    async def close(self) -> None:
        """Shut the server down completely."""
        await self._runner.cleanup()
