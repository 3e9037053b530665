"""A running bot (real Bolt app over HTTP) wired to the emulated Slack workspace, for admin tests.

Slack traffic is real HTTP both ways: the workspace POSTs signed slash commands, clicks and
events to the app's /slack/events, and the app calls the workspace's Web API.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.app import build_app
from bot.services import Services
from bot.transports.http import build_web_app
from bot.transports.slack_client import build_web_client
from bot.workspace import Workspace
from bot.workspace.model import Channel, User
from tuning.config import Settings
from tuning.models.serving import LiveModels
from tuning.store.base import Store
from tuning.store.sqlite.store import SqliteStore

CONFIG_ADMIN = "U_CFGADMIN"  # named in ADMIN_USER_IDS, not a workspace admin
WORKSPACE_ADMIN = "U_YOU"  # is_admin/is_owner per users.info
MEMBER = "U_ALEX"
OPTED_OUT = "U_QUIET"


@dataclass
class Running:
    """The workspace, the app's services and a way to build more apps on the same store."""

    ws: Workspace
    services: Services
    store: Store
    settings: Settings


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


def _add_people(ws: Workspace) -> None:
    ws.state.users[CONFIG_ADMIN] = User(CONFIG_ADMIN, "cfg", "Config Admin", "#000000")
    ws.state.users[OPTED_OUT] = User(OPTED_OUT, "quiet", "Quiet Member", "#111111")
    for channel in ws.state.channels.values():
        if channel.id in ("C_GENERAL", "C_RANDOM"):
            channel.members |= {CONFIG_ADMIN, OPTED_OUT}
    for user in (CONFIG_ADMIN, OPTED_OUT):
        dm = Channel(f"D_{user}", "sarcasm-bot", {user, "U_BOT"}, is_im=True)
        ws.state.channels[dm.id] = dm
        ws.state.messages[dm.id] = {}


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Train the seed models once per session; each test copies the store and data from here."""
    root = tmp_path_factory.mktemp("admin-template")

    async def train() -> None:
        store = SqliteStore(root / "store.db")
        await store.open()
        try:
            settings = Settings.from_env({"DATA_DIR": str(root / "data")})
            models = await LiveModels.start(settings=settings, store=store)
            await models.close()
        finally:
            await store.close()

    asyncio.run(train())
    return root


@pytest.fixture
def extra_env() -> dict[str, str]:
    """Return more settings for the bot under test; tests override this fixture."""
    return {}


@pytest.fixture
def make_tuning() -> Callable[[Settings, Store], Any] | None:
    """Return a factory of the tuning service; tests that need one override this fixture."""
    return None


@pytest.fixture
async def running(
    tmp_path: Path,
    trained: Path,
    make_tuning: Callable[[Settings, Store], Any] | None,
    extra_env: dict[str, str],
) -> AsyncIterator[Running]:
    """Start the workspace and the bot on a fresh SQLite store; stop both afterwards."""
    shutil.copytree(trained, tmp_path, dirs_exist_ok=True)
    ws = Workspace(signing_secret="admin-test-secret")
    await ws.start()
    _add_people(ws)
    settings = Settings.from_env(
        {
            "SLACK_BOT_TOKEN": ws.bot_token,
            "SLACK_SIGNING_SECRET": ws.signing_secret,
            "SLACK_API_URL": ws.api_url,
            "ADMIN_USER_IDS": CONFIG_ADMIN,
            "DATA_DIR": str(tmp_path / "data"),
            "STORE_URL": f"sqlite:///{tmp_path / 'store.db'}",
            **extra_env,
        }
    )
    store = SqliteStore(tmp_path / "store.db")
    await store.open()
    models = await LiveModels.start(settings=settings, store=store)
    services = Services(
        settings=settings,
        store=store,
        models=models,
        make_client=lambda: build_web_client(settings.slack),
        tuning=make_tuning(settings, store) if make_tuning else None,
    )
    await store.set_opt_out(user=OPTED_OUT, opted_out=True)
    app = build_app(settings, services)
    runner, url = await _serve(build_web_app(app, services))
    ws.event_url = f"{url}/slack/events"
    try:
        yield Running(ws=ws, services=services, store=store, settings=settings)
    finally:
        if services.tuning is not None:
            await services.tuning.close()
        await services.tasks.join()
        await runner.cleanup()
        await ws.stop()
        await models.close()
        await store.close()
