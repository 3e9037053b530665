"""Print how fast a mention gets its reply with MODEL_BACKEND=openai, and what the bot adds.

The real bot (``start_bot``) in the emulated Slack, against the fake OpenAI-compatible server
(tests/fakes/openai_server.py) with a per-token delay. For ``GENERATOR_CANDIDATES=1`` (streamed
with chat.startStream/appendStream/stopStream) and ``=4`` (best-of-n, reranked, one post):

- **first text**: from posting the mention to the first bot text in the thread, as the emulator
  records it (chat.startStream, or chat.postMessage);
- **full reply**: to the reply's last call (chat.stopStream, or chat.postMessage);
- **model**: the same request made straight to the server with the ``openai`` SDK (streamed to
  its end, or ``n=4`` in one answer): the model's own time;
- **overhead**: full reply minus model, at p50 and p90 (target: p50 under 30 ms), which
  includes event delivery, the queue, few-shot selection, reranking and the Slack calls.

Run: ``.venv/bin/python -m bench.bench_llm [--quick] [--token-ms 20] [--first-ms 150] [--n 30]``.
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import openai
from aiohttp import web
from openai.types.chat import ChatCompletionMessageParam

from bot.runtime import RunningBot, start_bot
from bot.workspace import BOT_USER_ID, YOU, Workspace
from bot.workspace.launch import BotHandle, start_workspace

if __package__ in (None, ""):
    # `python bench/bench_llm.py` (how `make bench` runs scripts) puts bench/ on the path,
    # not the repo root that `tests.*` lives in.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.fakes.openai_server import FakeOpenAI, JsonDict, start_fake_openai
from tuning.config import Settings

MODEL = "bench-7b"
REPLY = (
    "Oh wonderful, another meeting that could have been an email, exactly what this "
    "Tuesday needed to feel complete."
)


def script(body: JsonDict, index: int, seed: int | None) -> str:
    """Answer every prompt with one ~20-token reply, a little different per choice."""
    return REPLY if index == 0 else f"{REPLY} ({index})"


async def run_bot(
    root: Path, fake: FakeOpenAI, candidates: int, runs: int
) -> list[tuple[float, ...]]:
    """Mention the bot ``runs`` times; return (first text, full reply) seconds per mention."""
    env = {
        "STORE_URL": f"sqlite:///{root / 'store.db'}",
        "DATA_DIR": str(root / "data"),
        "MODEL_BACKEND": "openai",
        "OPENAI_BASE_URL": fake.url,
        "OPENAI_MODEL": MODEL,
        "GENERATOR_CANDIDATES": str(candidates),
    }
    bots: list[RunningBot] = []

    async def launch(settings: Settings) -> BotHandle:
        bot = await start_bot(settings, host="127.0.0.1")
        bots.append(bot)
        return bot

    ws, _ = await start_workspace(Settings.from_env(env), launch, port=0)
    try:
        await mention(ws, bots[0], "warm up")
        return [await mention(ws, bots[0], f"another meeting, number {i}") for i in range(runs)]
    finally:
        await bots[0].stop()
        await ws.stop()


async def mention(ws: Workspace, bot: RunningBot, text: str) -> tuple[float, ...]:
    """Post one mention and wait for its reply; return (first text, full reply) seconds."""
    started = time.time()
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"<@{BOT_USER_ID}> {text}")
    if bot.worker is not None:
        await bot.worker.idle()
    await ws.settle()
    posts = ("chat.startStream", "chat.postMessage")
    first = next(c for c in ws.calls() if c.method in posts and c.params["thread_ts"] == ts)
    if first.method == "chat.postMessage":
        return first.time - started, first.time - started
    [reply] = [m for m in ws.replies("C_GENERAL", ts) if m.get("user") == BOT_USER_ID]
    stop = next(c for c in ws.calls("chat.stopStream") if c.params["ts"] == reply["ts"])
    return first.time - started, stop.time - started


async def model_times(fake: FakeOpenAI, candidates: int, runs: int) -> list[float]:
    """Time the same request straight to the server: the model's own time, per request."""
    client = openai.AsyncOpenAI(base_url=fake.url, api_key="bench", max_retries=0)
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "another meeting"}]
    times = []
    try:
        for _ in range(runs):
            started = time.perf_counter()
            if candidates == 1:
                stream = await client.chat.completions.create(
                    model=MODEL,
                    messages=messages,
                    stream=True,
                )
                async for _chunk in stream:
                    pass
            else:
                await client.chat.completions.create(
                    model=MODEL,
                    messages=messages,
                    n=candidates,
                )
            times.append(time.perf_counter() - started)
    finally:
        await client.close()
    return times


def pct(values: Sequence[float], q: float) -> float:
    """Return the ``q`` quantile (0..1) of ``values``, in milliseconds."""
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def bench(token_ms: float, first_ms: float, runs: int) -> None:
    """Run both configurations and print their figures."""
    fake = FakeOpenAI(models=(MODEL,), script=script)
    fake.token_delay, fake.first_token_delay = token_ms / 1000, first_ms / 1000
    runner: web.AppRunner = await start_fake_openai(fake)
    print(f"fake server: first token {first_ms:.0f} ms, then {token_ms:.0f} ms per token")
    print(f"{'candidates':>10} {'first text p50':>15} {'full p50':>9} {'model p50':>10} "
          f"{'overhead p50':>13} {'p90':>6}")  # fmt: skip
    try:
        for candidates in (1, 4):
            with tempfile.TemporaryDirectory() as tmp:
                replies = await run_bot(Path(tmp), fake, candidates, runs)
            model = await model_times(fake, candidates, runs)
            first = [r[0] for r in replies]
            full = [r[1] for r in replies]
            overhead = [f - statistics.median(model) for f in full]
            print(
                f"{candidates:>10} {pct(first, 0.5):>12.1f} ms {pct(full, 0.5):>6.1f} ms "
                f"{pct(model, 0.5):>7.1f} ms {pct(overhead, 0.5):>10.1f} ms "
                f"{pct(overhead, 0.9):>6.1f}"
            )
    finally:
        await runner.cleanup()
    print("overhead = full reply - the model's own median time (target: p50 < 30 ms)")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 mentions each (under a minute)")
    parser.add_argument("--token-ms", type=float, default=20.0, help="delay per streamed token")
    parser.add_argument("--first-ms", type=float, default=150.0, help="delay of the first token")
    parser.add_argument("--n", type=int, default=30, help="mentions per configuration")
    args = parser.parse_args(argv)
    asyncio.run(bench(args.token_ms, args.first_ms, 10 if args.quick else args.n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
