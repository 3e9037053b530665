"""Print how fast the SQLite store writes and streams interactions and feedback.

Fills a fresh database with N interactions (default 100,000) and one or two feedback records
each through the public Store API, then times streaming everything back (the dataset export's
read pattern) and 10,000 concurrent claims. The baseline is a raw ``sqlite3`` SELECT of the same
rows in the same process, so the ratio shows what the store's paging and decoding cost.
Run: ``.venv/bin/python bench/bench_store.py [N]``
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from tuning.records import Candidate, Interaction
from tuning.store.sqlite.store import SqliteStore


def interaction(n: int) -> Interaction:
    return Interaction(
        id=f"i{n:07d}",
        team="T1",
        channel=f"C{n % 50}",
        ts=f"1700000000.{n:06d}",
        kind="generate" if n % 2 else "classify",
        input_text=f"oh great, another meeting about meetings number {n}",
        output="wow, truly the highlight of my week",
        model_version="generator-1",
        user=f"U{n % 500}",
        candidates=(Candidate("wow", 0.5), Candidate("amazing", 0.25)),
    )


async def fill(store: SqliteStore, count: int) -> int:
    feedback = 0
    for start in range(0, count, 1000):
        batch = range(start, min(start + 1000, count))
        await asyncio.gather(*(store.add_interaction(interaction(n)) for n in batch))
        for n in batch:
            for user in ("U1", "U2")[: 1 + n % 2]:
                await store.add_feedback(
                    interaction_id=f"i{n:07d}", user=user, reaction="joy", rating=1
                )
                feedback += 1
    return feedback


async def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        store = SqliteStore(path)
        await store.open()
        started = time.perf_counter()
        feedback = await fill(store, count)
        fill_s = time.perf_counter() - started
        print(f"write: {count:,} interactions + {feedback:,} feedback in {fill_s:.1f} s")

        started, cpu = time.perf_counter(), time.process_time()
        seen = sum([1 async for _ in store.iter_interactions()])
        rated = sum([1 async for _ in store.iter_feedback()])
        export_s, export_cpu = time.perf_counter() - started, time.process_time() - cpu
        print(
            f"export: {seen:,} interactions + {rated:,} feedback streamed in {export_s:.2f} s "
            f"wall, {export_cpu:.2f} s CPU ({(seen + rated) / export_s:,.0f} records/s; "
            "target < 10 s for 100,000)"
        )

        started = time.perf_counter()
        with sqlite3.connect(path) as conn:
            raw = len(conn.execute("SELECT * FROM interactions").fetchall())
            raw += len(conn.execute("SELECT * FROM feedback").fetchall())
        raw_s = time.perf_counter() - started
        print(
            f"baseline: raw sqlite3 SELECT of the same {raw:,} rows in {raw_s:.2f} s "
            f"(store/raw = {export_s / raw_s:.1f}x)"
        )

        started = time.perf_counter()
        wins = await asyncio.gather(
            *(store.claim(f"event:{n % 5000}", ttl=timedelta(minutes=5)) for n in range(10_000))
        )
        claim_s = time.perf_counter() - started
        print(
            f"claims: 10,000 concurrent claims of 5,000 keys in {claim_s:.2f} s "
            f"({10_000 / claim_s:,.0f}/s), {wins.count(True):,} won"
        )
        await store.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
