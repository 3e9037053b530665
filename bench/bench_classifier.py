"""Print the local classifier's batch throughput and single-text latency, on one CPU core.

Trains the production pipeline on the shipped seed data (plus ../shared iSarcasmEval tweets as
extra benchmark texts when present), round-trips it through skops, then measures:

* batch throughput (texts/second) of the sync path (``LocalClassifier.predict``) and of the
  async path (``await LocalClassifier.classify``, which runs in a worker thread);
* single-text latency p50/p99 of both paths.

Targets: >= 5,000 texts/s batch, p50 < 2 ms. The process pins itself to one core with
``os.sched_setaffinity`` where the OS allows it, and says so. Run:
``.venv/bin/python bench/bench_classifier.py``
"""

from __future__ import annotations

import asyncio
import csv
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tuning.datasets.basedata import load_seed_messages
from tuning.models.local_classifier import LocalClassifier, train_classifier

SHARED = Path(__file__).resolve().parents[2] / "shared/data/isarcasmeval/train.En.csv"
BATCH_TEXTS = 20_000
SINGLE_CALLS = 2_000


def pin_to_one_core() -> str:
    """Restrict this process to one CPU and return a note saying which (or why not)."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (os.sched_setaffinity unavailable on this OS)"
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return f"pinned to CPU core {core} (os.sched_setaffinity)"


def bench_texts() -> tuple[list[str], str]:
    """Return texts to classify and where they came from."""
    texts = [m.text for m in load_seed_messages()]
    source = f"{len(texts)} seed messages"
    if SHARED.is_file():
        with SHARED.open(encoding="utf-8", newline="") as handle:
            tweets = [r["tweet"] for r in csv.DictReader(handle) if r["tweet"].strip()]
        texts += tweets
        source += f" + {len(tweets)} iSarcasmEval tweets"
    return texts, source


def percentile(samples: list[float], q: float) -> float:
    """Return the q-th percentile (0-100) of ``samples``."""
    return statistics.quantiles(samples, n=100, method="inclusive")[max(0, int(q) - 1)]


def timed_single(call: Callable[[str], object], texts: list[str]) -> list[float]:
    """Return per-call latencies in milliseconds for one text at a time."""
    latencies = []
    for i in range(SINGLE_CALLS):
        started = time.perf_counter()
        call(texts[i % len(texts)])
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def main() -> int:
    """Train, save, load, measure and print."""
    pinned = pin_to_one_core()
    seed = load_seed_messages()
    pipeline, _ = train_classifier([m.text for m in seed], [m.label for m in seed], cv_folds=0)
    with tempfile.TemporaryDirectory() as tmp:
        LocalClassifier(pipeline, version="bench").save(Path(tmp), fingerprint="-", metrics={})
        classifier = LocalClassifier.load(Path(tmp))
    texts, source = bench_texts()
    batch = [texts[i % len(texts)] for i in range(BATCH_TEXTS)]
    print(f"classifier benchmark: {pinned}; texts: {source}")

    classifier.predict(batch[:100])  # warm-up
    started = time.perf_counter()
    classifier.predict(batch)
    sync_rate = len(batch) / (time.perf_counter() - started)

    async def run_async() -> tuple[float, list[float]]:
        await classifier.classify(batch[:100])
        started = time.perf_counter()
        await classifier.classify(batch)
        rate = len(batch) / (time.perf_counter() - started)
        latencies = []
        for i in range(SINGLE_CALLS):
            t0 = time.perf_counter()
            await classifier.classify([texts[i % len(texts)]])
            latencies.append((time.perf_counter() - t0) * 1000)
        return rate, latencies

    sync_single = timed_single(lambda text: classifier.predict([text]), texts)
    async_rate, async_single = asyncio.run(run_async())
    print(f"{'path':<28}{'texts/s (batch)':>16}{'p50 ms':>9}{'p99 ms':>9}")
    for name, rate, lat in (
        ("sync  LocalClassifier.predict", sync_rate, sync_single),
        ("async LocalClassifier.classify", async_rate, async_single),
    ):
        print(f"{name:<28}{rate:>16,.0f}{percentile(lat, 50):>9.2f}{percentile(lat, 99):>9.2f}")
    print(
        f"targets: >= 5,000 texts/s -> {'met' if sync_rate >= 5000 else 'MISSED'}; "
        f"p50 < 2 ms -> {'met' if percentile(sync_single, 50) < 2 else 'MISSED'}; "
        f"async/sync throughput ratio {async_rate / sync_rate:.2f}, "
        f"async/sync p50 ratio {percentile(async_single, 50) / percentile(sync_single, 50):.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
