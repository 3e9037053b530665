"""Admin tests run the shared harness (tests/harness.py) with a config admin and more people."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from bot.workspace import Workspace
from bot.workspace.model import Channel, User
from tests.harness import Harness

CONFIG_ADMIN = "U_CFGADMIN"  # named in ADMIN_USER_IDS, not a workspace admin
WORKSPACE_ADMIN = "U_YOU"  # is_admin/is_owner per users.info
MEMBER = "U_ALEX"
OPTED_OUT = "U_QUIET"


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


@pytest.fixture
def extra_env() -> dict[str, str]:
    """Return more settings for the bot under test; tests override this fixture."""
    return {}


@pytest.fixture
def bot_env(extra_env: dict[str, str]) -> Mapping[str, str]:
    """Name the config admin in ADMIN_USER_IDS, plus the test's own settings."""
    return {"ADMIN_USER_IDS": CONFIG_ADMIN, **extra_env}


@pytest.fixture
async def running(harness: Harness) -> Harness:
    """Return the harness with the admin tests' people in the workspace, one of them opted out."""
    _add_people(harness.ws)
    await harness.store.set_opt_out(user=OPTED_OUT, opted_out=True)
    return harness
