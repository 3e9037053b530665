"""The bot as it runs: `start_bot` (real Bolt app, HTTP transport) against the emulated Slack.

Traffic is real HTTP both ways: the workspace (or a test) POSTs signed requests to the app's
/slack/events, and the app calls the workspace's Web API through slack_sdk.
"""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.runtime import RunningBot, start_bot
from bot.workspace import BOT_USER_ID, Workspace, sign
from tuning.config import Settings
from tuning.models.serving import LiveModels
from tuning.records import Feedback, Interaction
from tuning.store import open_store
from tuning.store.base import Store
from tuning.store.sqlite.store import SqliteStore

SECRET = "bot-e2e-secret"


@pytest.fixture(scope="session")
def bot_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Train the seed models once per session; each test copies the store from here."""
    root = tmp_path_factory.mktemp("bot-template")

    async def train() -> None:
        store = SqliteStore(root / "store.db")
        await store.open()
        try:
            settings = Settings.from_env({"DATA_DIR": str(root / "data")})
            await (await LiveModels.start(settings=settings, store=store)).close()
        finally:
            await store.close()

    asyncio.run(train())
    return root


def bot_settings(ws: Workspace, root: Path, **env: str) -> Settings:
    """Return HTTP-mode settings that point the bot at ``ws`` and a store under ``root``."""
    return Settings.from_env(
        {
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
    """A workspace and the bots serving it; ``bot`` is the first."""

    ws: Workspace
    root: Path
    bots: list[RunningBot] = field(default_factory=list)
    stores: list[Store] = field(default_factory=list)

    @property
    def bot(self) -> RunningBot:
        """Return the first bot."""
        return self.bots[0]

    def url(self, index: int = 0) -> str:
        """Return a bot's Request URL."""
        return f"http://127.0.0.1:{self.bots[index].port}/slack/events"

    async def add_bot(self, models_cls: type[LiveModels] = LiveModels, **env: str) -> RunningBot:
        """Start another bot, as another process would, with its own connection to the store."""
        settings = bot_settings(self.ws, self.root, **env)
        store = await open_store(settings.store_url)
        self.stores.append(store)
        models = await models_cls.start(settings=settings, store=store)
        bot = await start_bot(settings, host="127.0.0.1", port=0, store=store, models=models)
        self.bots.append(bot)
        return bot

    async def idle(self) -> None:
        """Wait until the workspace delivered everything and every bot finished its work."""
        for _ in range(3):
            await self.ws.settle()
            for bot in self.bots:
                await bot.services.tasks.join()


@pytest.fixture
async def harness(
    request: pytest.FixtureRequest, tmp_path: Path, bot_template: Path
) -> AsyncIterator[Harness]:
    """Start the workspace and one bot on a fresh copy of the trained store.

    Parametrize indirectly with a LiveModels subclass to change how the models behave.
    """
    shutil.copytree(bot_template, tmp_path, dirs_exist_ok=True)
    ws = Workspace(signing_secret=SECRET)
    await ws.start()
    h = Harness(ws=ws, root=tmp_path)
    try:
        await h.add_bot(getattr(request, "param", LiveModels))
        ws.event_url = h.url()
        yield h
    finally:
        for bot in h.bots:
            await bot.stop(drain_seconds=5)
        await ws.stop()
        for store in h.stores:
            await store.close()


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
