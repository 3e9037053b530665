"""Print lost, duplicated and answered mentions per fault: the bot plays against the emulated Slack.

Each fault is a scenario against the emulated workspace (``bot.workspace``), counted from what
the workspace saw: the bot's replies (``sarcasm_bot_reply`` metadata) in each mention's thread.

* **kill -9**: a real ``python -m bot`` is killed mid-burst, then restarted; Slack redelivers
  only the events that did not get a 2xx (as it does: an acked event is never sent again).
  The killed process's leases would expire after ``LEASE_TTL`` (2 min); the bench expires
  them in the queue file instead of waiting, so the restart sees the world 2 minutes later.
* **SIGTERM with a backlog**: a real process acks a burst, gets SIGTERM with the backlog
  queued, must exit 0 within 8 s; the next process answers the rest (leases expired as above).
* **Web API faults** on ``chat.postMessage`` (in-process bot): 429, 500 and connection resets
  before the call, and 500 and resets after Slack applied it (the answer is lost).
* **disk full**: the queue refuses every write (``FaultySqliteQueue``), then recovers; the
  non-2xx deliveries are redelivered.
* **store outage**: the store and the queue in its file both fail (as when the file is
  unwritable), first under acked work in flight, then for new events; after recovery
  everything must be answered.

Target for every fault: 0 lost, 0 duplicated. ``--quick`` runs small bursts (about a minute);
the full run takes a few minutes. Run: ``.venv/bin/python bench/bench_faults.py [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bot.replying.posts import REPLY_EVENT_TYPE
from bot.runtime import RunningBot, start_bot
from bot.workspace import BOT_USER_ID, YOU, Workspace
from bot.workspace.delivery import Delivery
from bot.workspace.launch import free_port

if __package__ in (None, ""):
    # `python bench/bench_faults.py` (how `make bench` runs scripts) puts bench/ on the path,
    # not the repo root that `tests.*` lives in.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.harness import HOST, SECRET, bot_settings, train_template
from tests.queue_faults import FaultySqliteQueue, FaultySqliteStore
from tuning.records import utcnow
from tuning.store.codec import encode_text

CHANNEL = "C_GENERAL"
MENTION = f"<@{BOT_USER_ID}>"
ANSWER_SECONDS = 120.0  # how long a scenario waits for every mention's reply
GRACE_SECONDS = 1.5  # after the last reply, a late duplicate would show up within this


@dataclass(frozen=True)
class Tally:
    """One fault's figures: mentions sent, answered once, never answered, answered twice+."""

    fault: str
    sent: int
    answered: int
    lost: int
    duplicated: int
    note: str = ""

    def line(self) -> str:
        """Return the figures as one table row."""
        return (
            f"| {self.fault:<52} | {self.sent:5d} | {self.answered:8d} | {self.lost:4d} "
            f"| {self.duplicated:10d} | {self.note}"
        )


HEADER = (
    f"| {'fault':<52} | {'sent':>5} | {'answered':>8} | {'lost':>4} | {'duplicated':>10} | note\n"
    f"|{'-' * 54}|{'-' * 7}|{'-' * 10}|{'-' * 6}|{'-' * 12}|-----"
)


def tally(fault: str, replies: Mapping[str, int], note: str = "") -> Tally:
    """Count mentions by how many replies each got (``{mention ts: reply count}``).

    >>> tally("x", {"1": 1, "2": 0, "3": 2})
    Tally(fault='x', sent=3, answered=2, lost=1, duplicated=1, note='')
    """
    counts = list(replies.values())
    return Tally(
        fault=fault,
        sent=len(counts),
        answered=sum(c >= 1 for c in counts),
        lost=sum(c == 0 for c in counts),
        duplicated=sum(c > 1 for c in counts),
        note=note,
    )


def unacked(deliveries: Iterable[Delivery]) -> list[Delivery]:
    """Return the deliveries that never got a 2xx: the only ones Slack sends again."""
    return [d for d in deliveries if not any(200 <= r.status < 300 for r in d.replies)]


def reply_counts(ws: Workspace, mention_ts: Iterable[str]) -> dict[str, int]:
    """Return how many bot replies (by their metadata) each mention's thread holds."""
    return {
        ts: sum(
            m.get("user") == BOT_USER_ID
            and (m.get("metadata") or {}).get("event_type") == REPLY_EVENT_TYPE
            for m in ws.replies(CHANNEL, ts)
        )
        for ts in mention_ts
    }


async def redeliver_unacked(ws: Workspace) -> int:
    """Send every event that got no 2xx again, as Slack's next retry; return how many."""
    todo = unacked(ws.deliveries("events_api"))
    await asyncio.gather(
        *(ws.deliverer.send(d, retry_num=len(d.replies), reason="http_error") for d in todo)
    )
    return len(todo)


async def answered(
    ws: Workspace, mention_ts: list[str], *, seconds: float = ANSWER_SECONDS
) -> None:
    """Wait (bounded) until every mention has a reply, then a grace period for duplicates."""
    deadline = time.monotonic() + seconds
    while min(reply_counts(ws, mention_ts).values(), default=1) == 0:
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(GRACE_SECONDS)


async def burst(ws: Workspace, count: int, *, spread: float, tag: str) -> list[str]:
    """Post ``count`` mentions evenly over ``spread`` seconds; return their ts (all posted)."""

    async def one(i: int) -> str:
        await asyncio.sleep(spread * i / max(1, count))
        return await ws.post_message(user=YOU, channel=CHANNEL, text=f"{MENTION} {tag} #{i}")

    return list(await asyncio.gather(*(one(i) for i in range(count))))


def expire_leases(queue_file: Path) -> int:
    """Make every lease in a SQLite queue file run out now, as ``LEASE_TTL`` later would."""
    with sqlite3.connect(queue_file) as conn:
        cursor = conn.execute(
            "UPDATE queue_items SET ready_at = ? WHERE state = 'ready' AND token IS NOT NULL",
            (encode_text(utcnow()),),
        )
        return cursor.rowcount


# -- real processes ---------------------------------------------------------------------------


def process_env(ws: Workspace, root: Path, port: int) -> dict[str, str]:
    """Return the environment of a ``python -m bot`` against ``ws`` with its store in ``root``."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(root),
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        "SLACK_BOT_TOKEN": ws.bot_token,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": ws.api_url,
        "PORT": str(port),
        "STORE_URL": f"sqlite:///{root / 'store.db'}",
        "DATA_DIR": str(root / "data"),
        "LOG_LEVEL": "WARNING",
    }


async def start_process(root: Path, env: Mapping[str, str]) -> asyncio.subprocess.Process:
    """Start ``python -m bot`` and wait until its /healthz answers 200."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--host",
        HOST,
        cwd=root,
        env=dict(env),
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://{HOST}:{env['PORT']}/healthz"
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            if proc.returncode is not None:
                raise SystemExit(f"python -m bot exited with {proc.returncode} during start-up")
            try:
                async with session.get(url) as resp:
                    if resp.status == 200:
                        return proc
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    proc.kill()
    raise SystemExit("python -m bot never became healthy")


async def terminate(proc: asyncio.subprocess.Process) -> tuple[int, float]:
    """SIGTERM a process; return its exit status and how long it took to exit."""
    started = time.perf_counter()
    proc.send_signal(signal.SIGTERM)
    try:
        status = await asyncio.wait_for(proc.wait(), 30)
    except TimeoutError:
        proc.kill()
        status = await proc.wait()
    return status, time.perf_counter() - started


async def kill_mid_burst(template: Path, tmp: Path, *, count: int, spread: float) -> Tally:
    """kill -9 a real process mid-burst, restart it, redeliver only what got no 2xx."""
    root = tmp / "kill9"
    shutil.copytree(template, root)
    async with Workspace(signing_secret=SECRET) as ws:
        env = process_env(ws, root, free_port())
        proc = await start_process(root, env)
        ws.event_url = f"http://{HOST}:{env['PORT']}/slack/events"

        async def kill_later() -> None:
            await asyncio.sleep(spread / 2)
            proc.kill()

        killer = asyncio.create_task(kill_later())
        mention_ts = await burst(ws, count, spread=spread, tag="kill")
        await killer
        await proc.wait()
        acked = len(ws.deliveries("events_api")) - len(unacked(ws.deliveries("events_api")))
        expired = expire_leases(root / "store.db")
        later = await start_process(root, env)
        try:
            redelivered = await redeliver_unacked(ws)
            await answered(ws, mention_ts)
        finally:
            await terminate(later)
        note = (
            f"{acked} of {2 * count} events acked before the kill, "
            f"{expired} leases expired, {redelivered} resent"
        )
        return tally(
            f"kill -9 mid-burst ({count} over {spread} s)", reply_counts(ws, mention_ts), note
        )


async def sigterm_backlog(template: Path, tmp: Path, *, count: int) -> Tally:
    """SIGTERM a real process with ``count`` mentions acked and queued; the next one finishes."""
    root = tmp / "sigterm"
    shutil.copytree(template, root)
    async with Workspace(signing_secret=SECRET) as ws:
        env = process_env(ws, root, free_port())
        proc = await start_process(root, env)
        ws.event_url = f"http://{HOST}:{env['PORT']}/slack/events"
        mention_ts: list[str] = []
        for start in range(0, count, 100):  # 100 at a time: the acks, not the load generator
            mention_ts += await burst(ws, min(100, count - start), spread=0, tag=f"term{start}")
        refused = len(unacked(ws.deliveries("events_api")))
        done_before = sum(c > 0 for c in reply_counts(ws, mention_ts).values())
        status, seconds = await terminate(proc)
        expired = expire_leases(root / "store.db")
        later = await start_process(root, env)
        try:
            redelivered = await redeliver_unacked(ws)
            await answered(ws, mention_ts)
        finally:
            later_status, _ = await terminate(later)
        note = (
            f"exit {status} after {seconds:.1f} s with {count - done_before} unanswered; "
            f"{refused} not acked, {expired} leases expired, {redelivered} resent; "
            f"next exit {later_status}"
        )
        return tally(f"SIGTERM with a {count}-event backlog", reply_counts(ws, mention_ts), note)


# -- in-process bots --------------------------------------------------------------------------


@dataclass
class InProcess:
    """A workspace and one bot in this process, with a breakable store and queue."""

    ws: Workspace
    bot: RunningBot
    store: FaultySqliteStore
    queue: FaultySqliteQueue

    async def stop(self) -> None:
        """Stop the bot (finishing its work), the workspace, the store and the queue."""
        await self.bot.stop(drain_seconds=5)
        await self.ws.stop()
        await self.queue.close()
        await self.store.close()

    async def idle(self) -> None:
        """Wait until the workspace delivered everything and the bot finished its work."""
        await self.ws.settle()
        if self.bot.worker is not None:
            await self.bot.worker.idle()


async def in_process(template: Path, root: Path) -> InProcess:
    """Start a workspace and a bot whose queue lives in the store's file (the default)."""
    shutil.copytree(template, root)
    ws = Workspace(signing_secret=SECRET)
    await ws.start()
    store = FaultySqliteStore(root / "store.db")
    await store.open()
    queue = FaultySqliteQueue(root / "store.db")
    await queue.open()
    bot = await start_bot(bot_settings(ws, root), host=HOST, port=0, store=store, queue=queue)
    ws.event_url = f"http://{HOST}:{bot.port}/slack/events"
    return InProcess(ws, bot, store, queue)


WEB_API_FAULTS: tuple[tuple[str, int, bool], ...] = (
    ("429 Retry-After 1 before the call", 429, False),
    ("500 before the call", 500, False),
    ("connection reset before the call", 0, False),
    ("500 after the call was applied", 500, True),
    ("connection reset after it was applied", 0, True),
)


async def web_api_faults(template: Path, tmp: Path, *, count: int) -> list[Tally]:
    """Fail ``chat.postMessage`` in each way, ``count`` times, under ``count`` new mentions."""
    env = await in_process(template, tmp / "webapi")
    ws, tallies = env.ws, []
    try:
        for name, status, after_apply in WEB_API_FAULTS:
            failed_before = sum(not c.ok for c in ws.calls("chat.postMessage"))
            ws.fail_next("chat.postMessage", status=status, times=count, after_apply=after_apply)
            mention_ts = await burst(ws, count, spread=0.2, tag=name)
            await answered(ws, mention_ts, seconds=60)
            await env.idle()
            ws.clear_failures()
            failed = sum(not c.ok for c in ws.calls("chat.postMessage")) - failed_before
            tallies.append(
                tally(
                    f"chat.postMessage {name}",
                    reply_counts(ws, mention_ts),
                    f"{failed} failed calls",
                )
            )
    finally:
        await env.stop()
    return tallies


async def outage(
    template: Path,
    tmp: Path,
    *,
    name: str,
    count: int,
    breaks: Callable[[InProcess, bool], None],
    during_work: bool,
) -> Tally:
    """Break (``breaks(env, True)``), send ``count`` mentions, mend, redeliver the non-2xx."""
    env = await in_process(template, tmp / name.replace(" ", "-"))
    ws = env.ws
    try:
        mention_ts: list[str] = []
        if during_work:  # acked work is in flight when the outage starts
            mention_ts += await burst(ws, count, spread=0, tag=f"{name} before")
        breaks(env, True)
        mention_ts += await burst(ws, count, spread=0.2, tag=f"{name} during")
        health = await probe_health(env.bot.port)
        refused = len(unacked(ws.deliveries("events_api")))
        await asyncio.sleep(1.0)  # the outage lasts a while: workers meet it too
        breaks(env, False)
        redelivered = await redeliver_unacked(ws)
        await answered(ws, mention_ts)
        await env.idle()
        note = f"{refused} non-2xx during the outage, /healthz {health}, {redelivered} resent"
        return tally(name, reply_counts(ws, mention_ts), note)
    finally:
        await env.stop()


async def probe_health(port: int) -> int:
    """Return the bot's /healthz status."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://{HOST}:{port}/healthz") as resp,
    ):
        return resp.status


def disk_full(env: InProcess, broken: bool) -> None:
    """Make the queue fail every write as a full disk does (or mend it)."""
    env.queue.broken = broken


def store_down(env: InProcess, broken: bool) -> None:
    """Make the store file fail: the store and the queue in it (or mend both)."""
    env.store.broken = env.queue.broken = broken


async def bench(*, quick: bool) -> int:
    """Run every fault and print the table; return 0 when nothing was lost or duplicated."""
    started = time.perf_counter()
    # --quick: the same nine faults on smaller bursts (about a minute in all).
    burst_size, backlog, calls, outage_size = (50, 200, 3, 5) if quick else (100, 1500, 15, 30)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        template = tmp / "template"
        await train_template(template)
        print(f"seed models trained in {time.perf_counter() - started:.0f} s", flush=True)
        print("fault scenarios (counted from the emulated workspace's threads)…", flush=True)
        runs: list[Callable[[], Awaitable[Tally | list[Tally]]]] = [
            lambda: kill_mid_burst(template, tmp, count=burst_size, spread=0.5),
            lambda: sigterm_backlog(template, tmp, count=backlog),
            lambda: web_api_faults(template, tmp, count=calls),
            lambda: outage(
                template,
                tmp,
                name="disk full",
                count=outage_size,
                breaks=disk_full,
                during_work=False,
            ),
            lambda: outage(
                template,
                tmp,
                name="store outage",
                count=outage_size,
                breaks=store_down,
                during_work=True,
            ),
        ]
        tallies: list[Tally] = []
        print(HEADER, flush=True)
        for run in runs:
            began = time.perf_counter()
            found = await run()
            for one in found if isinstance(found, list) else [found]:
                print(one.line(), f"({time.perf_counter() - began:.0f} s)", flush=True)
                tallies.append(one)
    bad = [t for t in tallies if t.lost or t.duplicated]
    print(
        f"{len(tallies)} faults in {time.perf_counter() - started:.0f} s; "
        "target: 0 lost, 0 duplicated"
    )
    print("targets met" if not bad else f"TARGETS MISSED: {', '.join(t.fault for t in bad)}")
    return 0 if not bad else 1


def main(argv: list[str] | None = None) -> int:
    """Parse the knobs and run the fault scenarios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small bursts (about a minute)")
    args = parser.parse_args(argv)
    # The in-process bots log every injected failure with its traceback; the table is the point.
    logging.disable(logging.CRITICAL)
    return asyncio.run(bench(quick=args.quick))


if __name__ == "__main__":
    raise SystemExit(main())
