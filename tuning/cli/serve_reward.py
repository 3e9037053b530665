"""``python -m tuning serve-reward``: serve the reward model to Vertex AI reinforcement tuning.

Listens on ``PORT`` (as Cloud Run expects) on every interface, answers ``POST /`` with
``{"reward": float}`` and ``GET /healthz``; see :mod:`tuning.scoring.app`. The reward model and
classifier are loaded once, at start: the reward a response earns stays the same for a whole
job. Restart (or deploy a new revision) to learn from newer feedback. It runs as its own Cloud
Run service, apart from the Slack service.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from aiohttp import web

from tuning.config import Settings
from tuning.logs import configure_logging
from tuning.scoring.app import build_app
from tuning.scoring.source import load_scorer
from tuning.store import open_store

log = logging.getLogger(__name__)

HELP = "Serve the reward model as Vertex AI's Cloud Run reward scorer (POST / on PORT)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the serve-reward options."""
    parser.add_argument("--host", default="0.0.0.0", help="interface to listen on")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Load the scorer, then serve it until SIGTERM or SIGINT."""
    configure_logging(settings.log_level)  # one line per request is the point of this verb
    store = await open_store(settings.store_url, retention=settings.retention)
    try:
        scorer = await load_scorer(store, settings)
    finally:
        await store.close()
    runner = web.AppRunner(build_app(scorer), access_log=None)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await web.TCPSite(runner, args.host, settings.port).start()
        print(f"reward scorer listening on {args.host}:{settings.port}", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()
        closer = getattr(scorer.classifier, "aclose", None)
        if closer is not None:
            try:
                await closer()
            except Exception as exc:  # noqa: BLE001 - exiting anyway; say so, type only
                log.warning("could not close the classifier (%s)", type(exc).__name__)
    return 0
