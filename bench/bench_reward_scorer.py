"""Print the reward scorer's latency, p50 and p99, under 50 concurrent requests (never asserted).

Serves ``tuning.scoring.app`` on loopback with the prior reward model and the seed classifier
(trained here on the shipped seed messages), as ``python -m tuning serve-reward`` does, then
sends ROUNDS rounds of CONCURRENCY concurrent POSTs of the documented body, each response 1,000
characters long, and times every request from send to answer; then SINGLE requests one at a
time, which is the service time a request sees when it does not queue behind others (what a
Cloud Run instance with a low ``--concurrency`` gives). Target: p99 < 20 ms. Run:
``.venv/bin/python bench/bench_reward_scorer.py``
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time

import aiohttp
from aiohttp import web

from tuning.datasets.basedata import load_seed_messages
from tuning.models.local_classifier import LocalClassifier, train_classifier
from tuning.models.reward import RewardModel
from tuning.scoring.app import build_app
from tuning.scoring.scorer import Scorer

CONCURRENCY = 50
ROUNDS = 20
SINGLE = 200
RESPONSE_CHARS = 1000
TARGET_P99_MS = 20.0
PHRASES = ("Oh great, the build is broken again.", "What a surprise, another meeting.", "Sure.")


def response_text(i: int) -> str:
    """Return a 1,000-character response, different for each request."""
    text = f"{i} " + " ".join(PHRASES[(i + k) % len(PHRASES)] for k in range(60))
    return text[:RESPONSE_CHARS]


def body(i: int) -> bytes:
    return json.dumps(
        {
            "example": {
                "systemInstruction": {"parts": [{"text": "Reply sarcastically."}]},
                "contents": [{"role": "user", "parts": [{"text": "The build is broken."}]}],
            },
            "response": {"role": "model", "parts": [{"text": response_text(i)}]},
            "metadata": {"step": i, "tuning_job_id": 1},
        }
    ).encode()


async def timed_post(session: aiohttp.ClientSession, url: str, data: bytes) -> float:
    started = time.perf_counter()
    async with session.post(url, data=data) as answer:
        await answer.read()
        if answer.status != 200:
            raise RuntimeError(f"scorer answered {answer.status}")
    return (time.perf_counter() - started) * 1000


async def main() -> None:
    seed = load_seed_messages()
    pipeline, _ = train_classifier([m.text for m in seed], [m.label for m in seed], cv_folds=0)
    scorer = Scorer(reward=RewardModel(), classifier=LocalClassifier(pipeline, version="bench"))
    runner = web.AppRunner(build_app(scorer), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    try:
        async with aiohttp.ClientSession(connector=connector) as session:
            await timed_post(session, url, body(0))  # warm up: first call loads the thread pool
            for round_ in range(ROUNDS):
                batch = [body(round_ * CONCURRENCY + i) for i in range(CONCURRENCY)]
                latencies += await asyncio.gather(*(timed_post(session, url, b) for b in batch))
            alone = [await timed_post(session, url, body(10_000 + i)) for i in range(SINGLE)]
    finally:
        await runner.cleanup()
    print(
        f"reward scorer, {RESPONSE_CHARS}-char responses "
        f"(client and server share this machine's cores; target p99 < {TARGET_P99_MS:.0f} ms)"
    )
    for label, sample in ((f"{CONCURRENCY} concurrent", latencies), ("one at a time", alone)):
        p50, p99 = statistics.median(sample), statistics.quantiles(sample, n=100)[98]
        print(f"  {label:<14} {len(sample):>5} requests   p50 {p50:6.1f} ms   p99 {p99:6.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
