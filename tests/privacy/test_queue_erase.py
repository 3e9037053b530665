"""Forget-me reaches the work queue: waiting and dead items of the user keep no text.

A message put before forget-me would otherwise be handled, and stored, after it; a dead letter
would keep its text for a week. The file itself must keep no copy either (secure_delete, WAL).
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

from tests.clock import ManualClock
from tests.privacy.cli import run_cli
from tuning.config import Settings
from tuning.queue.base import WorkItem
from tuning.queue.sqlite import SqliteQueue

MARKER = "zebra-marmalade-4417"


def message(key: str, user: str, text: str) -> WorkItem:
    event = {"type": "message", "user": user, "channel": "C1", "ts": key, "text": text}
    return WorkItem(key=key, kind="flag", payload={"body": {"event": event}})


def click(key: str, user: str) -> WorkItem:
    body = {"type": "block_actions", "user": {"id": user}, "message": {"text": MARKER}}
    return WorkItem(key=key, kind="try_again", payload={"body": body})


def holding(root: Path, text: str) -> list[str]:
    """Return the files under ``root`` whose bytes contain ``text``."""
    return [f.name for f in root.iterdir() if f.is_file() and text.encode() in f.read_bytes()]


async def test_forget_blanks_the_users_waiting_and_dead_items_and_leaves_no_copy(
    tmp_path: Path,
) -> None:
    path = tmp_path / "queue.db"
    queue = SqliteQueue(path, clock=ManualClock(), max_attempts=1)
    await queue.open()
    try:
        await queue.put(message("dead", "U_GONE", f"old {MARKER}"))
        [lease] = await queue.lease(ttl=timedelta(minutes=1), holder="h")
        await queue.retry(lease, delay=timedelta(0))  # its last attempt: a dead letter now
        await queue.put(message("waiting", "U_GONE", f"new {MARKER}"))
        await queue.put(click("clicked", "U_GONE"))
        await queue.put(message("other", "U_STAYS", "keep me"))

        assert await queue.erase_user(user="U_GONE") == 3
        assert await queue.erase_user(user="U_GONE") == 0  # nothing of theirs is left to find
        [dead] = await queue.dead_letters()
        assert dict(dead.payload) == {}
        leases = await queue.lease(limit=10, ttl=timedelta(minutes=1), holder="h")
        payloads = {lease.item.key: dict(lease.item.payload) for lease in leases}
        assert payloads["waiting"] == payloads["clicked"] == {}
        assert payloads["other"]["body"]["event"]["text"] == "keep me"
        # While the queue is open (closing checkpoints the log by itself):
        assert holding(tmp_path, MARKER) == []
    finally:
        await queue.close()


def test_the_cli_forget_blanks_the_users_waiting_items_too(tmp_path: Path) -> None:
    # The queue shares the store's SQLite file (QUEUE_URL empty), as it does by default.
    store = tmp_path / "store.db"

    async def put() -> None:
        queue = SqliteQueue(store)
        await queue.open()
        try:
            await queue.put(message("waiting", "U_GONE", f"new {MARKER}"))
            await queue.put(message("other", "U_STAYS", "keep me"))
        finally:
            await queue.close()

    asyncio.run(put())
    settings = Settings.from_env({"STORE_URL": f"sqlite:///{store}", "DATA_DIR": str(tmp_path)})
    done = run_cli(["privacy", "forget", "--user", "U_GONE", "--json"], settings, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["queued"] == 1
    assert holding(tmp_path, MARKER) == []
