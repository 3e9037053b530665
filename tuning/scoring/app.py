"""The reward scorer's HTTP service: ``POST /`` answers ``{"reward": float}``, ``GET /healthz``.

Vertex AI posts each sampled response to the service URL it was given (``cloud_run_uri``), so
the reward is answered at ``/``. A body that breaks the contract gets 400 with a JSON error
naming the field, never a 500; a classifier that fails gets 503 (the call can be retried).
Each request writes one log line with the tuning job id, step, reward and time taken, never
the text.

Who may call it is left to Cloud Run: the service is deployed with
``--no-allow-unauthenticated`` and only the Vertex AI Secure Fine Tuning Service Agent holds
``roles/run.invoker``, so Cloud Run checks the caller's Google-signed ID token before a request
reaches this process.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tuning.errors import SarcasmError
from tuning.scoring.request import RequestError, parse_request, request_ids
from tuning.scoring.scorer import Scorer

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 4 * 1024 * 1024  # a prompt plus a response of up to 32,768 tokens fits
SCORER_KEY = web.AppKey("scorer", Scorer)


def build_app(scorer: Scorer, *, clock: Callable[[], float] = time.perf_counter) -> web.Application:
    """Return the aiohttp application that serves ``scorer``."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[SCORER_KEY] = scorer

    async def handle_reward(request: web.Request) -> web.Response:
        started = clock()
        body: Any = None
        try:
            body = _decode(await request.read())
            parsed = parse_request(body)
        except RequestError as exc:
            log.info("reward refused job=%s step=%s: %s", *_ids(body), exc)
            return web.json_response({"error": str(exc)}, status=400)
        try:
            reward = await scorer.score(parsed)
        except SarcasmError as exc:
            log.warning("reward failed job=%s step=%s (%s)", parsed.job_id, parsed.step, exc)
            return web.json_response({"error": "the classifier is unavailable"}, status=503)
        elapsed = (clock() - started) * 1000
        log.info(
            "reward %.4f job=%s step=%s in %.1f ms", reward, parsed.job_id, parsed.step, elapsed
        )
        return web.json_response({"reward": reward})

    async def handle_health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", **scorer.description})

    app.router.add_post("/", handle_reward)
    app.router.add_get("/healthz", handle_health)
    return app


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested past the parser
        raise RequestError("body: must be JSON") from None


def _ids(body: Any) -> tuple[str | None, int | None]:
    """Return the job id and step of a refused body, when they can be read at all."""
    try:
        return request_ids(body) if isinstance(body, dict) else (None, None)
    except RequestError:
        return None, None
