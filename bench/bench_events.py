"""Print ack latency and throughput of signed Slack events over HTTP: the bot vs a bare AsyncApp.

Both apps run as their own processes on loopback, each against the emulated Slack workspace
(``bot.workspace``), which this process runs; the bursts are sent from a process of their own,
so that the bot's calls to the emulated Slack do not slow the sender:

* **bot**: ``python -m bot`` in HTTP mode with SQLite and the local models, exactly as deployed;
* **bare**: an ``AsyncApp`` with no-op listeners behind the same aiohttp transport code.

Each app gets the same load: ``--messages`` plain channel messages (each classified, maybe
flagged) and ``--reactions`` reactions on them (by default 90 % messages and 10 % reactions),
plus a few ``--mentions`` (each delivered as ``app_mention`` and ``message``, as Slack does) whose
replies are counted, signed with v0 signatures and POSTed ``--concurrency`` at a time, after a
warm-up whose work has finished. The bot acks each event only once its work item is durably
queued, and its worker does the work meanwhile (bulk work paced while requests keep arriving:
bot/work/worker.py). The two apps take ``--rounds`` turns, each starting idle; each round prints
events/s and ack p50/p99 for both, their ratio, and how much of the bot's work was still queued
when its burst ended; then, for the bot, the ack p99 of a steady 100 messages a second sent
until the burst's backlog has drained, so measured while the work runs. Then the median ratio,
the bot's ack p99 over every round, and whether any mention got no reply or two (counted in
the workspace). Targets: ack p99 < 50 ms while the work
runs, throughput >= 85% of bare, nothing lost or doubled. Run:
``.venv/bin/python -m bench.bench_events`` (about a minute; ``--help`` for the knobs).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bot.workspace import BOT_USER_ID, YOU, Workspace, sign
from bot.workspace.launch import free_port
from bot.workspace.payloads import build_envelope, build_reaction_event

SECRET = "bench-signing-secret"
HOST = "127.0.0.1"
WARM_UP = 30  # mentions and messages sent (and finished) before measuring, to each app
SAMPLE_MENTIONS = ("deploy on friday?", "is the build green", "another meeting, nice")
# After each of the bot's bursts: a steady stream of messages until its backlog has drained (at
# most TRICKLE of them); the backlog is gone once no more than DRAINED items wait (the stream's
# own, which the worker takes as they come).
TRICKLE, TRICKLE_RATE, DRAINED = 3000, 100.0, 2
SAMPLE_MESSAGES = ("Oh great, the wifi is down again.", "Lunch is at noon in room 4.")


@dataclass
class Run:
    """One app's figures."""

    name: str
    latencies: list[float]
    seconds: float
    failures: int

    @property
    def rate(self) -> float:
        """Return acknowledged events per second."""
        return len(self.latencies) / self.seconds

    def quantile(self, q: float) -> float:
        """Return the ``q`` quantile of ack latency in milliseconds."""
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def line(self) -> str:
        """Return the figures on one line."""
        return (
            f"{self.name:>5}: {len(self.latencies):5d} events in {self.seconds:6.2f} s = "
            f"{self.rate:7.1f} events/s; ack p50 {self.quantile(0.5):6.1f} ms, "
            f"p99 {self.quantile(0.99):6.1f} ms, mean "
            f"{1000 * statistics.fmean(self.latencies):6.1f} ms; non-200: {self.failures}"
        )


def build_load(
    ws: Workspace, *, mentions: int, messages: int, reactions: int = 0
) -> tuple[list[bytes], list[str]]:
    """Create the messages in the workspace; return the event bodies and the mention ts list.

    Reactions land on the plain messages, one in every ``messages // reactions``.
    """
    events: list[dict[str, object]] = []
    mention_ts: list[str] = []
    channel = ws.state.channels["C_GENERAL"]
    texts = [f"<@{BOT_USER_ID}> {SAMPLE_MENTIONS[i % 3]} #{i}" for i in range(mentions)]
    texts += [f"{SAMPLE_MESSAGES[i % 2]} #{i}" for i in range(messages)]
    every = max(1, messages // reactions) if reactions else 0
    plain = 0
    for text in texts:
        msg = ws.state.post(channel=channel, user=YOU, text=text)
        events += ws.message_events(msg)
        if BOT_USER_ID in text:
            mention_ts.append(msg.ts)
            continue
        plain += 1
        if every and plain % every == 0 and plain // every <= reactions:
            events.append(
                build_reaction_event(
                    "reaction_added",
                    user=YOU,
                    name="joy",
                    channel=channel.id,
                    ts=msg.ts,
                    item_user=YOU,
                    event_ts=ws.state.next_ts(),
                )
            )
    bodies = [
        json.dumps(build_envelope(event, event_id=ws.state.new_id("Ev"))).encode()
        for event in events
    ]
    return bodies, mention_ts


async def post(session: aiohttp.ClientSession, url: str, body: bytes) -> tuple[float, int]:
    """POST ``body`` signed as Slack signs it; return (seconds to the answer, its status)."""
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": sign(SECRET, stamp, body),
    }
    started = time.perf_counter()
    async with session.post(url, data=io.BytesIO(body), headers=headers) as resp:
        await resp.read()
        return time.perf_counter() - started, resp.status


async def drive(name: str, url: str, bodies: list[bytes], concurrency: int) -> Run:
    """POST every body, signed, ``concurrency`` at a time; return the ack latencies."""
    latencies: list[float] = []
    failures = 0
    queue = list(reversed(bodies))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal failures
            while queue:
                seconds, status = await post(session, url, queue.pop())
                latencies.append(seconds)
                failures += status != 200

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return Run(name, latencies, seconds, failures)


async def drive_elsewhere(
    name: str, url: str, bodies: list[bytes], concurrency: int, tmp: str
) -> Run:
    """Run :func:`drive` in a process of its own and return its figures.

    The emulated Slack lives in this process: the bot's calls to it (flags, replies) must not
    slow the sender, which bare, posting nothing, would not suffer.
    """
    path = Path(tmp) / "bodies.jsonl"
    path.write_bytes(b"\n".join(bodies))
    args = ["--drive", url, "--bodies", str(path), "--concurrency", str(concurrency)]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, *args, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"the load generator exited with {proc.returncode}")
    sent = json.loads(out)
    return Run(name, sent["latencies"], sent["seconds"], sent["failures"])


def serve_drive(url: str, bodies: Path, concurrency: int) -> None:
    """Send the bodies in ``bodies`` (one a line) to ``url``; print the figures as JSON."""
    lines = bodies.read_bytes().split(b"\n")
    run = asyncio.run(drive("load", url, lines, concurrency))
    figures = {"latencies": run.latencies, "seconds": run.seconds, "failures": run.failures}
    print(json.dumps(figures))


async def drive_until_drained(name: str, port: int, bodies: list[bytes], rate: float) -> Run:
    """POST each body, signed, at ``rate`` a second whatever the answers, until the app's backlog
    has drained (its /healthz depth is at most DRAINED) or the bodies run out; return latencies.
    """
    latencies: list[float] = []
    failures = 0
    drained = asyncio.Event()

    async def watch() -> None:
        while await queued(port) > DRAINED:  # noqa: ASYNC110 - polls another process
            await asyncio.sleep(0.1)
        drained.set()

    async with aiohttp.ClientSession() as session:

        async def send(body: bytes) -> None:
            nonlocal failures
            seconds, status = await post(session, url(port), body)
            latencies.append(seconds)
            failures += status != 200

        started = time.perf_counter()
        watcher = asyncio.create_task(watch())
        sends = []
        for index, body in enumerate(bodies):
            await asyncio.sleep(max(0.0, started + index / rate - time.perf_counter()))
            if drained.is_set():
                break
            sends.append(asyncio.create_task(send(body)))
        await asyncio.gather(*sends)
        watcher.cancel()
        seconds = time.perf_counter() - started
    return Run(name, latencies, seconds, failures)


async def start_app(args: list[str], env: dict[str, str], port: int) -> asyncio.subprocess.Process:
    """Start an app process and wait until its /healthz answers 200."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *args, env={**os.environ, **env}, stderr=asyncio.subprocess.DEVNULL
    )
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            if proc.returncode is not None:
                raise SystemExit(f"{args} exited with {proc.returncode} during start-up")
            try:
                async with session.get(f"http://{HOST}:{port}/healthz") as resp:
                    if resp.status == 200:
                        return proc
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    proc.kill()
    raise SystemExit(f"{args} never became healthy")


async def wait_idle(port: int) -> None:
    """Wait (bounded) until /healthz reports no background task and no queued work."""
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            async with session.get(f"http://{HOST}:{port}/healthz") as resp:
                health = await resp.json()
                if not health.get("pending") and not any(health.get("depth", {}).values()):
                    return
            await asyncio.sleep(0.05)


async def stop_app(proc: asyncio.subprocess.Process) -> int:
    """SIGTERM an app and return its exit status."""
    proc.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(proc.wait(), 20)
    except TimeoutError:
        proc.kill()
        return await proc.wait()


async def bench(mentions: int, messages: int, reactions: int, concurrency: int, rounds: int) -> int:
    """Run both apps under the same load, ``rounds`` times in turn; print the comparison."""
    with tempfile.TemporaryDirectory() as tmp:
        async with Workspace(signing_secret=SECRET) as ws:
            common = {
                "SLACK_BOT_TOKEN": ws.bot_token,
                "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": ws.api_url,
                "STORE_URL": f"sqlite:///{Path(tmp) / 'store.db'}",
                "DATA_DIR": str(Path(tmp) / "data"),
                "LOG_LEVEL": "WARNING",
                "SLACK_APP_TOKEN": "",
            }
            print(
                f"load: {messages} messages + {reactions} reactions + {mentions} mentions (x2), "
                f"concurrency {concurrency}, loopback, {rounds} rounds; starting the apps…",
                flush=True,
            )
            ports = {name: free_port() for name in ("bare", "bot")}
            procs: dict[str, asyncio.subprocess.Process] = {}
            try:
                for name, port in ports.items():
                    args = ["-m", "bot", "--host", HOST] if name == "bot" else [__file__, "--bare"]
                    procs[name] = await start_app(args, {**common, "PORT": str(port)}, port)
                # The workspace delivers the events of the bot's own posts to the bot, as Slack.
                ws.event_url = url(ports["bot"])
                for name, port in ports.items():
                    warm, _ = build_load(ws, mentions=WARM_UP, messages=WARM_UP)
                    await drive(name, url(port), warm, concurrency)
                    await wait_idle(port)
                runs: dict[str, list[Run]] = {"bare": [], "bot": []}
                left: list[int] = []
                trickles: list[Run] = []
                drained: list[int] = []
                lost = doubled = 0
                for _ in range(rounds):
                    for name, port in ports.items():
                        bodies, mention_ts = build_load(
                            ws, mentions=mentions, messages=messages, reactions=reactions
                        )
                        sent = await drive_elsewhere(name, url(port), bodies, concurrency, tmp)
                        runs[name].append(sent)
                        if name == "bot":
                            left.append(await queued(port))
                            # Events keep coming at a steady rate while the backlog drains.
                            steady, _ = build_load(ws, mentions=0, messages=TRICKLE, reactions=0)
                            trickles.append(
                                await drive_until_drained(name, port, steady, TRICKLE_RATE)
                            )
                            drained.append(await queued(port))
                            missing, twice = await count_replies(ws, mention_ts)
                            lost, doubled = lost + missing, doubled + twice
                        await wait_idle(port)
            finally:
                for name, proc in procs.items():
                    status = await stop_app(proc)
                    if status != 0:
                        print(f"{name} exited with {status}")
    return report(
        runs,
        trickles,
        left=left,
        drained=drained,
        lost=lost,
        doubled=doubled,
        mentions=mentions * rounds,
    )


def report(
    runs: dict[str, list[Run]],
    trickles: list[Run],
    *,
    left: list[int],
    drained: list[int],
    lost: int,
    doubled: int,
    mentions: int,
) -> int:
    """Print each round, the median ratio and the bot's ack p99 over every round; 0 if met."""
    ratios = []
    for index, (bare, bot) in enumerate(zip(runs["bare"], runs["bot"], strict=True), start=1):
        ratios.append(bot.rate / bare.rate)
        print(f"round {index}:")
        print("  " + bare.line())
        print("  " + bot.line())
        print(
            f"  bot/bare {ratios[-1]:.2f}; work items still queued as its burst ended: "
            f"{left[index - 1]}"
        )
        trickle = trickles[index - 1]
        print(
            f"  then {len(trickle.latencies)} messages at {TRICKLE_RATE:.0f}/s over "
            f"{trickle.seconds:.1f} s, until the work had drained: ack p99 "
            f"{trickle.quantile(0.99):.1f} ms; still queued after: {drained[index - 1]}"
        )
    ratio = statistics.median(ratios)
    print(f"throughput ratio bot/bare, median of {len(ratios)}: {ratio:.2f}  (target >= 0.85)")
    during = Run("bot", [t for run in trickles for t in run.latencies], 1.0, 0)
    p99 = during.quantile(0.99)
    burst = Run("bot", [t for run in runs["bot"] for t in run.latencies], 1.0, 0)
    print(
        f"bot ack p99 in the bursts {burst.quantile(0.99):.1f} ms; while the work ran "
        f"{p99:.1f} ms  (target < 50 ms)"
    )
    print(f"mentions without a reply: {lost} of {mentions}, with two or more: {doubled}")
    failures = sum(run.failures for run in (*runs["bot"], *trickles))
    ok = ratio >= 0.85 and p99 < 50 and lost == doubled == failures == 0
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


def url(port: int) -> str:
    """Return an app's Request URL."""
    return f"http://{HOST}:{port}/slack/events"


async def queued(port: int) -> int:
    """Return how many work items wait or run in the app's queue, from its /healthz."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://{HOST}:{port}/healthz") as resp,
    ):
        return sum((await resp.json()).get("depth", {}).values())


async def count_replies(ws: Workspace, mention_ts: list[str]) -> tuple[int, int]:
    """Wait (bounded) for a reply to every mention; return (lost, doubled) counts."""

    def counts() -> list[int]:
        return [
            sum(m.get("user") == BOT_USER_ID for m in ws.replies("C_GENERAL", ts))
            for ts in mention_ts
        ]

    deadline = time.monotonic() + 120
    while mention_ts and min(counts()) == 0 and time.monotonic() < deadline:  # noqa: ASYNC110 - polls state
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)  # a late duplicate would show up now
    final = counts()
    return sum(c == 0 for c in final), sum(c > 1 for c in final)


def serve_bare() -> None:
    """Serve a bare AsyncApp with no-op listeners through the bot's aiohttp transport code."""
    from aiohttp import web
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.transports.http import events_handler

    async def noop() -> None:
        return None

    client = AsyncWebClient(
        token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]
    )
    app = AsyncApp(client=client, signing_secret=os.environ["SLACK_SIGNING_SECRET"])
    # A listener for every event the load sends, so bare answers each with a 200 as the bot does
    # (an unhandled event costs Bolt a 404 and a warning, which would flatter the ratio).
    for event in ("app_mention", "message", "reaction_added", "reaction_removed"):
        app.event(event)(noop)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    web_app = web.Application()
    web_app.router.add_post("/slack/events", events_handler(app, signing_secret=SECRET))
    web_app.router.add_get("/healthz", healthz)
    web.run_app(web_app, host=HOST, port=int(os.environ["PORT"]), print=None, access_log=None)


def main(argv: list[str] | None = None) -> int:
    """Parse the knobs and run the benchmark (or, with --bare, serve the bare app)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mentions", type=int, default=30, help="@-mentions per round")
    parser.add_argument("--messages", type=int, default=5400, help="plain messages per round")
    parser.add_argument("--reactions", type=int, default=600, help="reactions per round")
    parser.add_argument("--rounds", type=int, default=3, help="bare, then bot, this many times")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--drive", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--bodies", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare:
        serve_bare()
        return 0
    if args.drive:
        serve_drive(args.drive, args.bodies, args.concurrency)
        return 0
    return asyncio.run(
        bench(args.mentions, args.messages, args.reactions, args.concurrency, args.rounds)
    )


if __name__ == "__main__":
    raise SystemExit(main())
