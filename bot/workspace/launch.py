"""``python -m bot`` with no Slack token: the emulated workspace, the bot against it, and the page.

Contract with ``bot/__main__.py``::

    from bot.workspace.launch import run_workspace
    return run_workspace(settings)                 # blocks until Ctrl-C / SIGTERM; returns 0
    return run_workspace(settings, start_bot=cb)   # cb(bot_settings) -> Awaitable[handle]

The page and the emulated Web API listen on ``127.0.0.1:settings.port`` (default 3000). The bot
gets a copy of ``settings`` with ``slack=SlackSettings(bot_token, signing_secret, api_url)``
pointing at the emulator, a free ``port`` for its HTTP mode, and ``U_YOU`` added to
``admin_user_ids``. The callback starts the bot's HTTP server on ``127.0.0.1:bot_settings.port``
serving ``/slack/events`` and returns a handle with ``async stop()``. By default it is
``bot.runtime.start_bot(bot_settings, host="127.0.0.1")``, imported only here, at the edge.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, Protocol

from bot.workspace.emulator import Workspace
from bot.workspace.model import YOU
from tuning.config import Settings, SlackSettings

HOST = "127.0.0.1"


class BotHandle(Protocol):
    """A started bot that can be stopped."""

    async def stop(self) -> Any:
        """Stop the bot, finishing in-flight work."""


StartBot = Callable[[Settings], Awaitable[BotHandle]]


def bot_settings_for(settings: Settings, ws: Workspace, *, port: int) -> Settings:
    """Return the settings the bot runs with against the emulated workspace."""
    slack = SlackSettings(
        bot_token=ws.bot_token, signing_secret=ws.signing_secret, api_url=ws.api_url
    )
    admins = settings.admin_user_ids | {YOU}
    return replace(settings, slack=slack, port=port, admin_user_ids=admins)


def free_port(host: str = HOST) -> int:
    """Return a TCP port that is free right now on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


async def start_workspace(
    settings: Settings, start_bot: StartBot, *, port: int | None = None
) -> tuple[Workspace, BotHandle]:
    """Start the emulator on ``port`` (default ``settings.port``), then the bot against it."""
    ws = Workspace()
    await ws.start(HOST, settings.port if port is None else port)
    bot_port = free_port()
    try:
        bot = await start_bot(bot_settings_for(settings, ws, port=bot_port))
    except BaseException:  # even Ctrl-C while starting: stop the emulator, then go on
        await ws.stop()
        raise
    ws.event_url = f"http://{HOST}:{bot_port}/slack/events"
    return ws, bot


async def serve_workspace(settings: Settings, start_bot: StartBot, stop: asyncio.Event) -> int:
    """Run the workspace and the bot until ``stop`` is set; return the exit status."""
    print(f"Starting the emulated Slack workspace on http://{HOST}:{settings.port} …", flush=True)
    try:
        ws, bot = await start_workspace(settings, start_bot)
    except OSError as exc:
        print(f"error: cannot listen on {HOST}:{settings.port} ({exc.strerror}); set PORT")
        return 1
    print(f"sarcasm-bot is ready. Open {ws.base_url} in your browser (Ctrl-C to stop).", flush=True)
    try:
        await stop.wait()
    finally:
        print("Stopping…", flush=True)
        await bot.stop()
        await ws.stop()
    return 0


def run_workspace(settings: Settings, start_bot: StartBot | None = None) -> int:
    """Run the emulated workspace with the bot until Ctrl-C or SIGTERM; return the exit status."""

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # Windows has no signal handlers
                loop.add_signal_handler(signum, stop.set)
        return await serve_workspace(settings, start_bot or _default_start_bot, stop)

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        print("Stopped.", file=sys.stderr)
        return 0


async def _default_start_bot(settings: Settings) -> BotHandle:
    from bot.runtime import start_bot  # the wiring edge; the emulator itself never imports the bot

    handle: BotHandle = await start_bot(settings, host=HOST)
    return handle
