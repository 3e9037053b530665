"""Print how fast ``python -m bot``'s local workspace answers: mention to threaded reply, and flags.

Starts the emulated workspace and the real bot against it (SQLite in a temp dir, local models;
what ``python -m bot`` runs without a Slack token), then, as a person would:

* posts ``MENTIONS`` @-mentions one after another and times each until the bot's reply is in
  the thread (the acceptance target is under 2 seconds on the local backends);
* posts ``FLAGS`` sarcastic lines and times each until the bot's flag reaction is on it.

Also prints the emulator's own cost as a baseline in the same process: a post delivered, signed,
to a no-op HTTP endpoint and acknowledged. Run: ``.venv/bin/python bench/bench_workspace.py``
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from bot.runtime import start_bot
from bot.workspace import BOT_USER_ID, YOU, Workspace
from bot.workspace.launch import BotHandle, start_workspace
from tuning.config import Settings

MENTIONS = 30
FLAGS = 20
PROMPTS = ["is it going to rain again?", "should I refactor on a Friday?", "is the build green?"]
SARCASM = "Oh great. Another meeting. Just what I needed."


def summary(name: str, seconds: list[float]) -> str:
    """Return one line with p50, p95 and max in milliseconds."""
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    p50 = statistics.median(ms)
    return f"{name:<36} n={len(ms):<3} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  max {ms[-1]:7.1f} ms"


async def bare_posts(n: int) -> list[float]:
    """Time posts delivered to a no-op HTTP endpoint: the emulator's own delivery cost."""
    app = web.Application()
    app.router.add_post("/slack/events", lambda _: _ok())
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
        async with Workspace(event_url=url) as ws:
            times = []
            for i in range(n):
                started = time.perf_counter()
                await ws.post_message(user=YOU, channel="C_RANDOM", text=f"hello {i}")
                times.append(time.perf_counter() - started)
            return times
    finally:
        await runner.cleanup()


async def _ok() -> web.Response:
    return web.Response(status=200)


def _replied(ws: Workspace, ts: str) -> Callable[[], bool]:
    return lambda: bool(ws.replies("C_GENERAL", ts))


def _flagged(ws: Workspace, ts: str) -> Callable[[], bool]:
    return lambda: bool(ws.reactions("C_RANDOM", ts))


async def main() -> None:
    """Run the measurements and print them."""

    async def start(settings: Settings) -> BotHandle:
        handle: BotHandle = await start_bot(settings, host="127.0.0.1")
        return handle

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(store_url=f"sqlite:///{tmp}/store.db", data_dir=Path(tmp) / "data")
        started = time.perf_counter()
        ws, bot = await start_workspace(settings, start, port=0)
        print(
            f"workspace and bot ready in {time.perf_counter() - started:.1f}s (first start trains)"
        )
        try:
            replies, flags = [], []
            for i in range(MENTIONS):
                t0 = time.perf_counter()
                text = f"<@{BOT_USER_ID}> {PROMPTS[i % len(PROMPTS)]}"
                ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=text)
                await ws.wait_for(_replied(ws, ts), timeout=30)
                replies.append(time.perf_counter() - t0)
            for _ in range(FLAGS):
                t0 = time.perf_counter()
                ts = await ws.post_message(user=YOU, channel="C_RANDOM", text=SARCASM)
                await ws.wait_for(_flagged(ws, ts), timeout=30)
                flags.append(time.perf_counter() - t0)
        finally:
            await bot.stop()
            await ws.stop()
    baseline = await bare_posts(MENTIONS)
    print(summary("mention -> threaded reply", replies))
    print(summary("sarcastic line -> flag reaction", flags))
    print(summary("baseline: post acked by a no-op app", baseline))
    ratio = statistics.median(replies) / statistics.median(baseline)
    print(f"reply p50 / no-op ack p50 = {ratio:.1f}x; target: reply p50 < 2000 ms")


if __name__ == "__main__":
    asyncio.run(main())
