"""``python -m bot``: run the Slack bot in Socket Mode, HTTP mode, or the emulated workspace."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Sequence

from tuning.config import Settings, load_settings
from tuning.errors import ConfigError, SarcasmError
from tuning.logs import configure_logging

log = logging.getLogger("bot")
# How long a thread may hold the GIL while another waits for it (Python's default is 5 ms).
# Model threads (classify, generate, rerank) hold it in long stretches, and the event loop needs
# it back after every socket read and every queue put: at 0.5 ms the acks stay fast while the
# models run (bench/bench_events.py: bot throughput about 1.3x, ack p99 about half).
GIL_SWITCH_SECONDS = 0.0005


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bot until SIGTERM or Ctrl-C; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Run sarcasm-bot. Socket Mode with SLACK_APP_TOKEN, HTTP mode on PORT with "
        "SLACK_BOT_TOKEN, or, with no Slack token at all, a local emulated workspace.",
    )
    parser.add_argument("--host", default=None, help="interface to listen on (HTTP mode)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    sys.setswitchinterval(GIL_SWITCH_SECONDS)
    try:
        if not settings.slack.bot_token:
            from bot.workspace.launch import run_workspace

            return run_workspace(settings)
        return asyncio.run(serve(settings, host=args.host or "0.0.0.0"))
    except SarcasmError as exc:
        # One line for the person; the chained details only at LOG_LEVEL=DEBUG.
        log.debug("bot failed to start", exc_info=exc)
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


async def serve(settings: Settings, *, host: str) -> int:
    """Start the bot and stop it cleanly on SIGTERM or SIGINT."""
    from bot.runtime import start_bot

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    bot = await start_bot(settings, host=host)
    # What start-up built (models, app, clients) lives as long as the process: kept out of the
    # collector's full passes, which otherwise scan all of it and stall the acks by up to ~90 ms
    # while the work runs (bench/bench_events.py, the steady stream after each burst).
    gc.freeze()
    await stop.wait()
    log.info("stopping: finishing in-flight work")
    await bot.stop()
    return 0


def run() -> None:
    """Console-script entry point."""
    raise SystemExit(main())


if __name__ == "__main__":
    run()
