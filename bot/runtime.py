"""Start and stop one bot process: store, live models, app and transport, with a clean drain."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.admin.job_progress import ProgressReporter
from bot.admin.kit import AdminKit, build_admin_kit
from bot.app import build_app
from bot.listeners.actions import forget_handler
from bot.services import Services
from bot.transports.http import HttpTransport, RequestHandler, build_web_app
from bot.transports.push_auth import PushVerifier
from bot.transports.slack_client import build_web_client
from bot.transports.socket_mode import SocketModeTransport
from bot.work.hot_events import HotEvents
from bot.work.kinds import FORGET, KINDS
from bot.work.push import PUSH_PATH, push_handler
from bot.work.routes import build_handlers
from bot.work.worker import Wakeups, Worker
from tuning.config import Settings
from tuning.errors import ConfigError
from tuning.lifecycle.builder import build_privacy_service, build_tuning_service
from tuning.lifecycle.job_log import OnChange
from tuning.lifecycle.scheduler import run_periodically
from tuning.lifecycle.service import TuningService
from tuning.models.serving import LiveModels
from tuning.queue import open_queue
from tuning.queue.base import WorkQueue
from tuning.store import open_store
from tuning.store.base import Store

log = logging.getLogger(__name__)

# Cloud Run sends SIGTERM and kills the container 10 s later: stop() ends within
# DRAIN_SECONDS + CLEANUP_SECONDS = 8 s, 2 s before that. The drain may take 1 s more than
# asked (it waits that long for the tasks it cancels); the cleanup gets whatever is left.
DRAIN_SECONDS = 5.0
CLEANUP_SECONDS = 3.0


class BuildTuning(Protocol):
    """Build the process's tuning service around the hook its job changes are reported to."""

    def __call__(
        self, settings: Settings, store: Store, *, on_change: OnChange
    ) -> TuningService | None:
        """Return the tuning service, or None for a process that runs no tuning."""
        ...


@dataclass
class RunningBot:
    """A started bot: its services, admin kit, Bolt app and transport."""

    services: Services
    kit: AdminKit
    app: AsyncApp
    transport: HttpTransport | SocketModeTransport
    poller: asyncio.Task[None]
    session: aiohttp.ClientSession
    owns_store: bool = True
    owns_queue: bool = True
    background: list[asyncio.Task[None]] = field(default_factory=list)
    worker: Worker | None = None

    @property
    def port(self) -> int:
        """Return the HTTP port (0 in Socket Mode)."""
        return self.transport.port if isinstance(self.transport, HttpTransport) else 0

    async def stop(self, *, drain_seconds: float = DRAIN_SECONDS) -> int:
        """Stop accepting, finish in-flight work (bounded), close everything.

        Queued work this process did not finish stays in the queue (its leases expire) for the
        next process. Return how many unfinished tasks had to be cancelled or abandoned.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + drain_seconds + CLEANUP_SECONDS
        await self.transport.stop_accepting()
        cancelled = 0
        if self.worker is not None:
            cancelled += await self.worker.stop(within=drain_seconds)
        left = max(0.0, deadline - CLEANUP_SECONDS - loop.time())
        cancelled += await self.services.tasks.drain(within=left)
        try:
            async with asyncio.timeout_at(deadline):
                await self._close()
        except TimeoutError:
            log.warning("cleanup did not finish before the stop deadline; exiting anyway")
        log.info("stopped", extra={"cancelled": cancelled})
        return cancelled

    async def _close(self) -> None:
        await self.transport.close()
        await self.session.close()
        for task in (self.poller, *self.background):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.services.tuning is not None:
            await self.services.tuning.close()
        await self.services.models.close()
        if self.owns_queue and self.services.queue is not None:
            await self.services.queue.close()
        if self.owns_store:
            await self.services.store.close()


async def start_bot(
    settings: Settings,
    *,
    host: str = "0.0.0.0",
    port: int | None = None,
    store: Store | None = None,
    models: LiveModels | None = None,
    queue: WorkQueue | None = None,
    build_tuning: BuildTuning = build_tuning_service,
    push_verifier: PushVerifier | None = None,
) -> RunningBot:
    """Open the store, start the models, build the app and start the transport it calls for.

    ``store``, ``models`` and ``queue`` are used as given (and not closed here) when passed.
    ``build_tuning`` builds the tuning service (tests give it other backends).
    ``push_verifier`` checks Pub/Sub push tokens (default: Google's certificates, from the
    settings).
    """
    owns_store = store is None
    store = (
        store
        if store is not None
        else await open_store(settings.store_url, retention=settings.retention)
    )
    owns_queue = queue is None
    if queue is None:
        queue = await open_queue(settings.queue_url, clock=store.clock, store=store, kinds=KINDS)
    if queue.push and settings.slack.socket_mode:
        # Push delivery POSTs each item to this process: it needs the HTTP server.
        raise ConfigError("QUEUE_URL", "push delivery needs HTTP mode; add ?delivery=pull")
    models = (
        models if models is not None else await LiveModels.start(settings=settings, store=store)
    )
    # One connection pool for every Web API call this process makes.
    session = aiohttp.ClientSession()

    def make_client() -> AsyncWebClient:
        return build_web_client(settings.slack, session=session)

    def make_work_client() -> AsyncWebClient:
        return build_web_client(settings.slack, session=session, for_work=True)

    instance = uuid.uuid4().hex[:12]
    wakeups = Wakeups()
    # The reporter comes first: the tuning service reports every job change to it from birth.
    reporter = ProgressReporter(store=store, make_client=make_client, instance=instance)
    services = Services(
        settings=settings,
        store=store,
        models=models,
        make_client=make_client,
        tuning=build_tuning(settings, store, on_change=reporter.on_change),
        privacy=build_privacy_service(settings, store),
        instance=instance,
        queue=queue,
        make_work_client=make_work_client,
        wake=wakeups.set,
    )
    kit = build_admin_kit(services, reporter=reporter)
    app = build_app(settings, services, kit)
    handlers = build_handlers(extra={FORGET: forget_handler(kit)})
    transport: HttpTransport | SocketModeTransport
    worker: Worker | None = None
    if settings.slack.socket_mode:
        transport = SocketModeTransport(app, app_token=settings.slack.app_token)
    else:
        posts: dict[str, RequestHandler] = {}
        if queue.push:
            verifier = push_verifier or _push_verifier(settings)
            posts[PUSH_PATH] = push_handler(services, handlers, verifier=verifier)
        hot = HotEvents(services, authorized=lambda: app.authorized)
        web_app = build_web_app(app, services, posts=posts, hot=hot)
        transport = HttpTransport(web_app, host=host, port=settings.port if port is None else port)
    if not queue.push:
        # Push delivery leases nothing: Pub/Sub brings each item to PUSH_PATH.
        worker = Worker(services, queue, handlers, wakeups=wakeups)
        # Work left by an earlier process (expired leases) starts before new requests arrive.
        worker.start()
    await transport.start()
    poller = asyncio.create_task(models.run_polling(), name="model-polling")
    running = RunningBot(
        services,
        kit,
        app,
        transport,
        poller,
        session,
        owns_store=owns_store,
        owns_queue=owns_queue,
        worker=worker,
    )
    if services.tuning is not None:
        services.tasks.spawn(_resume_jobs(services.tuning), name="resume-tuning-jobs")
    if settings.tick_minutes and services.tuning is not None:
        # The optional in-process scheduler; cron or Cloud Scheduler can run `tuning tick` instead.
        ticker = run_periodically(
            services.tuning,
            store,
            every=timedelta(minutes=settings.tick_minutes),
            holder=services.instance,
            privacy=services.privacy,
        )
        running.background.append(asyncio.create_task(ticker, name="tuning-tick"))
    return running


def _push_verifier(settings: Settings) -> PushVerifier | None:
    push = settings.push
    if push.unauthenticated:
        log.warning("taking Pub/Sub pushes without a token: PUBSUB_EMULATOR_HOST is set")
        return None
    if not push.audience or not push.service_account:
        # Settings.from_env refuses this; a hand-built Settings must not open the route either.
        raise ConfigError("PUBSUB_PUSH_AUDIENCE", "push delivery needs the audience and account")
    return PushVerifier(audience=push.audience, service_account=push.service_account)


async def _resume_jobs(tuning: TuningService) -> None:
    # Jobs that outlived an earlier process are followed again here, so whichever process
    # sees them end reports them (the reporter is already the service's hook).
    picked = await tuning.resume(follow=True)
    if picked:
        log.info("resumed %d unfinished tuning jobs", len(picked))
