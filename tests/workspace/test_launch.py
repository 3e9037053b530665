"""``python -m bot`` with no Slack token: the workspace, the bot and the page in one command."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from bot.workspace import YOU, Workspace
from bot.workspace.launch import BotHandle, bot_settings_for, free_port, serve_workspace
from tuning.config import Settings

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
async def test_python_m_bot_serves_the_workspace_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ADMIN_", "STORE_"))}
    env.update(PORT=str(port), DATA_DIR=str(tmp_path / "data"), LOG_LEVEL="WARNING")
    env["STORE_URL"] = f"sqlite:///{tmp_path}/store.db"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(REPO)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(120):
            while "ready" not in (lines[-1] if lines else ""):
                line = (await proc.stdout.readline()).decode()
                assert line, f"python -m bot exited early: {lines}"
                lines.append(line)
        assert f"http://127.0.0.1:{port}" in lines[-1]
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/") as page:
                assert page.status == 200
                assert "Sarcasm Demo" in await page.text()
            async with session.get(f"http://127.0.0.1:{port}/_ws/state") as state:
                assert (await state.json())["app_connected"] is True
    finally:
        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(30):
            status = await proc.wait()
    assert status == 0


async def test_bot_settings_point_at_the_emulator_and_make_you_admin() -> None:
    async with Workspace() as ws:
        settings = Settings(admin_user_ids=frozenset({"U_OTHER"}), port=3000)
        bot = bot_settings_for(settings, ws, port=4321)
    assert bot.slack.bot_token == ws.bot_token
    assert bot.slack.signing_secret == ws.signing_secret
    assert bot.slack.api_url == ws.api_url
    assert not bot.slack.socket_mode
    assert (bot.port, bot.admin_user_ids) == (4321, frozenset({"U_OTHER", YOU}))


async def test_a_busy_port_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    async with Workspace() as busy:
        port = int(busy.base_url.rsplit(":", 1)[1])
        started: list[Settings] = []

        async def start_bot(settings: Settings) -> BotHandle:
            started.append(settings)
            raise AssertionError("the bot must not start when the page cannot")

        status = await serve_workspace(Settings(port=port), start_bot, asyncio.Event())
    assert status == 1
    assert started == []
    assert f"error: cannot listen on 127.0.0.1:{port}" in capsys.readouterr().out
