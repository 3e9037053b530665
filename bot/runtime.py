"""Start and stop one bot process: store, live models, app and transport, with a clean drain."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import aiohttp
from slack_bolt.async_app import AsyncApp

from bot.app import build_app
from bot.services import Services
from bot.slack_client import build_web_client
from bot.transports.http import HttpTransport, build_web_app
from bot.transports.socket_mode import SocketModeTransport
from tuning.config import Settings
from tuning.serving import LiveModels
from tuning.store import open_store
from tuning.store.base import Store

log = logging.getLogger(__name__)

# Cloud Run sends SIGTERM and kills the container 10 s later.
DRAIN_SECONDS = 10.0


@dataclass
class RunningBot:
    """A started bot: its services, Bolt app and transport."""

    services: Services
    app: AsyncApp
    transport: HttpTransport | SocketModeTransport
    poller: asyncio.Task[None]
    session: aiohttp.ClientSession
    owns_store: bool = True

    @property
    def port(self) -> int:
        """Return the HTTP port (0 in Socket Mode)."""
        return self.transport.port if isinstance(self.transport, HttpTransport) else 0

    async def stop(self, *, drain_seconds: float = DRAIN_SECONDS) -> int:
        """Stop accepting, finish in-flight replies (bounded), close everything.

        Return how many unfinished tasks had to be cancelled.
        """
        await self.transport.stop_accepting()
        cancelled = await self.services.tasks.drain(within=drain_seconds)
        await self.transport.close()
        await self.session.close()
        self.poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.poller
        await self.services.models.close()
        if self.owns_store:
            await self.services.store.close()
        log.info("stopped", extra={"cancelled": cancelled})
        return cancelled


async def start_bot(
    settings: Settings,
    *,
    host: str = "0.0.0.0",
    port: int | None = None,
    store: Store | None = None,
    models: LiveModels | None = None,
) -> RunningBot:
    """Open the store, start the models, build the app and start the transport it calls for.

    ``store`` and ``models`` are used as given (not closed by the store's owner) when passed.
    """
    owns_store = store is None
    store = store if store is not None else await open_store(settings.store_url)
    models = (
        models if models is not None else await LiveModels.start(settings=settings, store=store)
    )
    # One connection pool for every Web API call this process makes.
    session = aiohttp.ClientSession()
    services = Services(
        settings=settings,
        store=store,
        models=models,
        make_client=lambda: build_web_client(settings.slack, session=session),
    )
    app = build_app(settings, services)
    transport: HttpTransport | SocketModeTransport
    if settings.slack.socket_mode:
        transport = SocketModeTransport(app, app_token=settings.slack.app_token)
    else:
        web_app = build_web_app(app, services)
        transport = HttpTransport(web_app, host=host, port=settings.port if port is None else port)
    await transport.start()
    poller = asyncio.create_task(models.run_polling(), name="model-polling")
    return RunningBot(services, app, transport, poller, session, owns_store=owns_store)
