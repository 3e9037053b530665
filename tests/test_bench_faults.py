"""The pure parts of bench/bench_faults.py: the tally, which deliveries Slack resends, leases.

The benchmark itself prints figures and is never run here; these keep its counting honest.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta

from bench.bench_faults import expire_leases, tally, unacked
from bot.workspace.delivery import Delivery, Reply
from tuning.queue.base import WorkItem
from tuning.queue.sqlite import SqliteQueue


def test_tally_counts_lost_and_duplicated_mentions():
    found = tally("fault", {"1.1": 1, "1.2": 0, "1.3": 3, "1.4": 1})
    assert (found.sent, found.answered, found.lost, found.duplicated) == (4, 3, 1, 1)


def test_only_deliveries_without_a_2xx_are_resent():
    acked_late = Delivery("events_api", {}, "Ev1", [Reply(0), Reply(503), Reply(200)])
    refused = Delivery("events_api", {}, "Ev2", [Reply(503), Reply(0)])
    never_sent = Delivery("events_api", {}, "Ev3")
    assert unacked([acked_late, refused, never_sent]) == [refused, never_sent]


async def test_expired_leases_are_leased_again_at_once(tmp_path):
    queue = SqliteQueue(tmp_path / "queue.db")
    await queue.open()
    try:
        for key in ("a", "b"):
            await queue.put(WorkItem(key=key, kind="mention", payload={}))
        [held] = await queue.lease(kinds=["mention"], limit=1, ttl=timedelta(minutes=2), holder="x")
        assert expire_leases(tmp_path / "queue.db") == 1
        leased = await queue.lease(kinds=["mention"], limit=2, ttl=timedelta(minutes=2), holder="y")
        assert sorted(lease.item.key for lease in leased) == ["a", "b"]
        assert held.item.key == "a"
    finally:
        await queue.close()
    with sqlite3.connect(tmp_path / "queue.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM queue_items").fetchone() == (2,)
