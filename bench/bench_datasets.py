"""Benchmark: build and export the tuning datasets for 100,000 interactions in SQLite.

Run: ``.venv/bin/python bench/bench_datasets.py [--interactions 100000] [--db PATH]``.
Prints the wall time of each step (reading the store, building, writing) per dataset, the
ratio to a baseline (just iterating the store) in the same process, and peak memory: the
process's max RSS (getrusage) and, in a second pass, tracemalloc's peak of Python allocations.
Target: the three exports together under 10 s. Setting up the store is timed separately.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tuning.datasets.assemble import DatasetConfig
from tuning.datasets.export import base_examples, build_dataset, read_snapshot, write_dataset
from tuning.records import Interaction, Method, Task
from tuning.store.sqlite.store import SqliteStore

JOBS: list[tuple[Task, Method]] = [
    ("classifier", "sft"),
    ("generator", "sft"),
    ("generator", "preference"),
]
T0 = datetime(2026, 1, 1, tzinfo=UTC)
WORDS = [
    "build",
    "deploy",
    "printer",
    "vpn",
    "wifi",
    "laptop",
    "standup",
    "ticket",
    "release",
    "pipeline",
    "database",
]


def fake_interactions(n: int) -> list[tuple[Interaction, list[int]]]:
    """Return n interactions with their ratings: half flags, half replies with "try again"."""
    rows: list[tuple[Interaction, list[int]]] = []
    for i in range(n // 2):
        word = WORDS[i % len(WORDS)]
        sarcastic = i % 2 == 0
        text = (
            f"Oh great, the {word} broke again, number {i}. Love that for us."
            if sarcastic
            else f"The {word} review number {i} moved to Thursday at {i % 12 + 1} pm."
        )
        flag = Interaction(
            id=f"c{i}",
            team="T",
            channel="C",
            ts=f"{i}.0",
            kind="classify",
            input_text=text,
            output="sarcastic",
            model_version="v0",
            user=f"U{i % 50}",
            created_at=T0 + timedelta(seconds=i),
        )
        rows.append((flag, [1 if sarcastic else -1] + ([1] if i % 3 == 0 and sarcastic else [])))
    for i in range(n - n // 2):
        pair, retry = divmod(i, 2)
        word = WORDS[pair % len(WORDS)]
        prompt = f"Is the {word} fixed yet? Asking for the {pair}th time."
        reply = (
            f"Oh sure, the {word} is totally fixed. Attempt {pair} will surely work."
            if retry
            else f"The {word} is fine, I think ({pair})."
        )
        answer = Interaction(
            id=f"g{i}",
            team="T",
            channel="C",
            ts=f"g{i}.0",
            kind="generate",
            input_text=prompt,
            output=reply,
            model_version="v0",
            user=f"U{i % 50}",
            parent_id=f"g{i - 1}" if retry else None,
            created_at=T0 + timedelta(seconds=i),
        )
        rows.append((answer, [1] if retry else [-1]))
    return rows


async def populate(path: Path, n: int) -> float:
    """Fill a fresh store with n interactions and their feedback; return the seconds it took."""
    store = SqliteStore(path)
    await store.open()
    start = time.perf_counter()
    for interaction, ratings in fake_interactions(n):
        await store.add_interaction(interaction)
        for k, rating in enumerate(ratings):
            await store.add_feedback(
                interaction_id=interaction.id, user=f"R{k}", reaction=f"r{k}", rating=rating
            )
    await store.close()
    return time.perf_counter() - start


async def export_all(db: Path, out: Path, data_dir: Path, report: bool) -> float:
    """Export the three datasets; print per-step times when ``report``; return total seconds."""
    store = SqliteStore(db)
    await store.open()
    config = DatasetConfig(min_train=100)
    total = 0.0
    try:
        start = time.perf_counter()
        base = base_examples(data_dir)
        total += time.perf_counter() - start
        for task, method in JOBS:
            times = {}
            start = time.perf_counter()
            snapshot = await read_snapshot(store, task=task)
            times["read store"] = time.perf_counter() - start
            start = time.perf_counter()
            dataset = build_dataset(
                task, method, snapshot, base=base if task == "classifier" else (), config=config
            )
            times["build+validate"] = time.perf_counter() - start
            start = time.perf_counter()
            files = write_dataset(dataset, out / f"{task}-{method}")
            times["write"] = time.perf_counter() - start
            total += sum(times.values())
            if report:
                counts = files.stats["counts"]
                steps = "  ".join(f"{name} {secs:6.2f}s" for name, secs in times.items())
                print(
                    f"{task:>10} {method:<10} {steps}  -> {counts['train']:>6} train "
                    f"{counts['validation']:>5} validation {counts['skipped']:>6} skipped"
                )
    finally:
        await store.close()
    return total


async def baseline(db: Path) -> float:
    """Return the seconds to just iterate every interaction and feedback record."""
    store = SqliteStore(db)
    await store.open()
    start = time.perf_counter()
    async for _ in store.iter_interactions():
        pass
    async for _ in store.iter_feedback():
        pass
    elapsed = time.perf_counter() - start
    await store.close()
    return elapsed


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interactions", type=int, default=100_000)
    parser.add_argument("--db", type=Path, help="reuse (or create) this SQLite file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "store.db"
        if not db.exists():
            seconds = asyncio.run(populate(db, args.interactions))
            print(
                f"setup: stored {args.interactions:,} interactions with feedback in {seconds:.1f}s"
            )
        data_dir, out = Path(tmp) / "data", Path(tmp) / "out"
        plain = asyncio.run(baseline(db))
        print(f"baseline: iterate all interactions and feedback {plain:.2f}s")
        total = asyncio.run(export_all(db, out, data_dir, report=True))
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"total export {total:.2f}s (target < 10 s; {total / plain:.1f}x the baseline)")
        print(f"peak RSS {rss:.0f} MB")
        tracemalloc.start()
        asyncio.run(export_all(db, Path(tmp) / "out2", data_dir, report=False))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"tracemalloc peak during the three exports {peak / 2**20:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
