"""The bot as ``python -m bot`` starts it (``bot.runtime.start_bot``), against the emulated Slack.

The one end-to-end harness of the bot, admin and workspace tests. Traffic is real HTTP both
ways: the workspace (or a test) POSTs signed requests to the app's /slack/events, and the app
calls the workspace's Web API through slack_sdk. The fixtures are in ``tests/conftest.py``.
"""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bot.runtime import BuildTuning, RunningBot, start_bot
from bot.workspace import BOT_USER_ID, Workspace, sign
from bot.workspace.launch import start_workspace
from tests.queue_faults import FaultySqliteQueue
from tuning.config import Settings
from tuning.lifecycle.builder import build_tuning_service
from tuning.models.serving import LiveModels
from tuning.records import Clock, Feedback, Interaction, utcnow
from tuning.store import open_store
from tuning.store.base import Store
from tuning.store.sqlite.store import SqliteStore

SECRET = "bot-e2e-secret"
HOST = "127.0.0.1"


async def train_template(root: Path) -> None:
    """Train the seed models into ``root`` (store.db and data/), for tests to copy."""
    store = SqliteStore(root / "store.db")
    await store.open()
    try:
        settings = Settings.from_env({"DATA_DIR": str(root / "data"), "MODEL_PROCESSES": "0"})
        await (await LiveModels.start(settings=settings, store=store)).close()
    finally:
        await store.close()


def bot_settings(ws: Workspace, root: Path, **env: str) -> Settings:
    """Return HTTP-mode settings that point the bot at ``ws`` and a store under ``root``.

    The models run in threads (MODEL_PROCESSES=0) unless ``env`` asks for processes: spawning
    them would cost every test a few seconds of the machine's two cores.
    """
    return Settings.from_env(
        {
            "MODEL_PROCESSES": "0",
            "SLACK_BOT_TOKEN": ws.bot_token,
            "SLACK_SIGNING_SECRET": ws.signing_secret,
            "SLACK_API_URL": ws.api_url,
            "DATA_DIR": str(root / "data"),
            "STORE_URL": f"sqlite:///{root / 'store.db'}",
            **env,
        }
    )


@dataclass
class Harness:
    """A workspace and the bots serving it; ``bot`` is the first.

    ``env`` and ``build_tuning`` apply to every bot :meth:`add_bot` starts.
    """

    ws: Workspace
    root: Path
    env: Mapping[str, str] = field(default_factory=dict)
    build_tuning: BuildTuning = build_tuning_service
    bots: list[RunningBot] = field(default_factory=list)
    stores: list[Store] = field(default_factory=list)
    queues: list[FaultySqliteQueue] = field(default_factory=list)

    @classmethod
    async def start(
        cls,
        root: Path,
        *,
        template: Path,
        models_cls: type[LiveModels] = LiveModels,
        env: Mapping[str, str] | None = None,
        build_tuning: BuildTuning = build_tuning_service,
    ) -> Harness:
        """Start a workspace and one HTTP bot on a copy of the trained ``template`` store."""
        shutil.copytree(template, root, dirs_exist_ok=True)
        ws = Workspace(signing_secret=SECRET)
        await ws.start()
        harness = cls(ws=ws, root=root, env=dict(env or {}), build_tuning=build_tuning)
        try:
            await harness.add_bot(models_cls)
        except BaseException:
            await harness.stop()
            raise
        ws.event_url = harness.url()
        return harness

    @classmethod
    async def product(cls, settings: Settings) -> Harness:
        """Start what ``python -m bot`` runs without a Slack token: the workspace, then the bot."""

        async def start(bot_settings: Settings) -> RunningBot:
            queue = await open_test_queue(settings.data_dir.parent)
            queues.append(queue)
            bot = await start_bot(bot_settings, host=HOST, queue=queue)
            bots.append(bot)
            return bot

        bots: list[RunningBot] = []
        queues: list[FaultySqliteQueue] = []
        ws, _ = await start_workspace(settings, start, port=0)
        return cls(ws=ws, root=settings.data_dir.parent, bots=bots, queues=queues)

    @property
    def bot(self) -> RunningBot:
        """Return the first bot."""
        return self.bots[0]

    @property
    def settings(self) -> Settings:
        """Return the first bot's settings."""
        return self.bot.services.settings

    @property
    def store(self) -> Store:
        """Return the first bot's store."""
        return self.bot.services.store

    def url(self, index: int = 0) -> str:
        """Return a bot's Request URL."""
        return f"http://{HOST}:{self.bots[index].port}/slack/events"

    async def add_bot(self, models_cls: type[LiveModels] = LiveModels, **env: str) -> RunningBot:
        """Start another bot as another process would, with its own connection to the store.

        With the real models, ``start_bot`` opens the store and models itself, as in
        production; a ``models_cls`` stand-in needs both opened here.
        """
        settings = bot_settings(self.ws, self.root, **{**self.env, **env})
        store: Store | None = None
        models: LiveModels | None = None
        if models_cls is not LiveModels:
            store = await open_store(settings.store_url, retention=settings.retention)
            self.stores.append(store)
            models = await models_cls.start(settings=settings, store=store)
        # Each bot has its own connection to the one queue file, as replicas would.
        queue = await open_test_queue(self.root)
        self.queues.append(queue)
        bot = await start_bot(
            settings,
            host=HOST,
            port=0,
            store=store,
            models=models,
            queue=queue,
            build_tuning=self.build_tuning,
        )
        self.bots.append(bot)
        return bot

    async def idle(self) -> None:
        """Wait until the workspace delivered everything and every bot finished its work."""
        for _ in range(3):
            await self.ws.settle()
            for bot in self.bots:
                await bot.services.tasks.join()
                if bot.worker is not None:
                    await bot.worker.idle()

    async def stop(self) -> None:
        """Stop every bot (finishing their work), the workspace, and the stores opened here."""
        for bot in self.bots:
            await bot.stop(drain_seconds=5)
        await self.ws.stop()
        for store in self.stores:
            await store.close()
        for queue in self.queues:
            await queue.close()


async def open_test_queue(root: Path, *, clock: Clock = utcnow) -> FaultySqliteQueue:
    """Open a connection to the bots' work queue under ``root`` (one file for every bot)."""
    queue = FaultySqliteQueue(root / "queue.db", clock=clock)
    await queue.open()
    return queue


async def post_signed(
    url: str,
    payload: dict[str, Any] | bytes,
    *,
    secret: str = SECRET,
    timestamp: int | None = None,
    retry_num: int | None = None,
    content_type: str = "application/json",
) -> tuple[int, str, float]:
    """POST a body signed as Slack signs it; return (status, body text, seconds to answer)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": sign(secret, stamp, body),
    }
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    started = time.perf_counter()
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=io.BytesIO(body), headers=headers) as resp,
    ):
        return resp.status, await resp.text(), time.perf_counter() - started


async def eventually(check: Callable[[], Awaitable[bool]], *, seconds: float = 5.0) -> None:
    """Poll an async condition until it holds, or fail the test."""
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def stored(store: Store, kind: str | None = None) -> list[Interaction]:
    """Return every stored interaction, optionally of one kind."""
    return [i async for i in store.iter_interactions(kind=kind)]  # type: ignore[arg-type]


async def feedback(store: Store, *, include_retracted: bool = True) -> list[Feedback]:
    """Return every stored feedback record."""
    return [f async for f in store.iter_feedback(include_retracted=include_retracted)]


def bot_replies(ws: Workspace, channel: str, ts: str) -> list[dict[str, Any]]:
    """Return the bot's replies in the thread of ``ts``."""
    return [m for m in ws.replies(channel, ts) if m.get("user") == BOT_USER_ID]
