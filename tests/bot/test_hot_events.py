"""The hot path puts exactly what Bolt's dispatch puts, for every combination of event fields.

Two apps built as start_bot builds them, each with a queue of its own: one dispatches every
body through Bolt, the other through HotEvents first (Bolt only for what it passes on). Both
must answer each body alike and end with the same items, byte for byte. The hot path must
also take the common events itself, or the comparison would prove nothing.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.app import SarcasmApp, build_app
from bot.transports.http import hot_response
from bot.work.hot_events import HotEvents
from bot.work.intake import retry_later
from bot.workspace import BOT_USER_ID, YOU, sign
from bot.workspace.payloads import build_envelope
from tests.harness import SECRET, Harness
from tuning.queue.sqlite import SqliteQueue

TYPES = ("message", "app_mention", "reaction_added", "reaction_removed", "app_home_opened")
CHANNEL_TYPES = ("channel", "group", "im", "mpim", None)
USERS = (YOU, BOT_USER_ID, None)
BOT_IDS = (None, "B_SOMEONE")
SUBTYPES = (None, "thread_broadcast", "message_changed")
TEXTS = ("Oh great, another outage.", f"<@{BOT_USER_ID}> is it Friday yet?", "   ", None)
EVENT_IDS = ("Ev{n}", None)


def bodies() -> Iterator[dict[str, Any]]:
    """Yield an Events API envelope for every combination of the fields above."""
    combos = itertools.product(TYPES, CHANNEL_TYPES, USERS, BOT_IDS, SUBTYPES, TEXTS, EVENT_IDS)
    for n, (kind, channel_type, user, bot_id, subtype, text, event_id) in enumerate(combos):
        ts = f"1700000000.{n:06d}"
        event: dict[str, Any] = {"type": kind, "ts": ts, "event_ts": ts, "channel": "C_GENERAL"}
        fields = {"channel_type": channel_type, "user": user, "bot_id": bot_id}
        fields |= {"subtype": subtype, "text": text}
        if kind.startswith("reaction"):
            fields = {"user": user, "reaction": "joy", "item_user": YOU}
            event["item"] = {"type": "message", "channel": "C_GENERAL", "ts": ts}
        event |= {key: value for key, value in fields.items() if value is not None}
        body = build_envelope(event, event_id=event_id.format(n=n) if event_id else "")
        if not event_id:
            del body["event_id"]
        yield body


def request(body: dict[str, Any]) -> AsyncBoltRequest:
    text = json.dumps(body)
    stamp = str(int(time.time()))
    headers = {
        "content-type": ["application/json"],
        "x-slack-request-timestamp": [stamp],
        "x-slack-signature": [sign(SECRET, stamp, text.encode())],
    }
    return AsyncBoltRequest(body=text, headers=dict(headers))


async def queued(queue: SqliteQueue) -> list[tuple[str, str, str]]:
    leases = await queue.lease(limit=100_000, ttl=timedelta(minutes=5), holder="test")
    items = [(one.item.key, one.item.kind, json.dumps(dict(one.item.payload))) for one in leases]
    return sorted(items)


async def test_the_hot_path_puts_what_bolt_puts_for_every_event(
    harness: Harness, tmp_path: Path
) -> None:
    running = harness.bot
    queues = [SqliteQueue(tmp_path / f"{name}.db") for name in ("bolt", "hot")]
    apps: list[SarcasmApp] = []
    for queue in queues:
        await queue.open()
        services = dataclasses.replace(running.services, queue=queue)
        apps.append(build_app(services.settings, services, running.kit))
    bolt, fallback = apps
    hot = HotEvents(
        dataclasses.replace(running.services, queue=queues[1]), authorized=lambda: bolt.authorized
    )
    try:
        cases = list(bodies())
        # The first dispatch authorizes (auth.test); until then the hot path passes all on.
        assert await hot(cases[0]) is None
        answers: list[tuple[int, int]] = []
        taken = 0
        for body in cases:
            expected = await bolt.async_dispatch(request(body))
            answer = await hot(body)
            taken += answer is not None
            if answer is None:
                answer = await fallback.async_dispatch(request(body))
            answers.append((expected.status, answer.status))
        assert [hot for _, hot in answers] == [bolt for bolt, _ in answers]
        items = await queued(queues[0])
        assert await queued(queues[1]) == items
        assert {kind for _, kind, _ in items} == {"flag", "mention", "reaction"}
        # Everything but app_home_opened is the hot path's own (noise and self events too).
        assert taken == len(cases) * (len(TYPES) - 1) // len(TYPES)
    finally:
        for queue in queues:
            await queue.close()


async def test_the_hot_paths_answers_are_what_bolts_adapter_would_send() -> None:
    answers = {"ack": BoltResponse(status=200, body=""), "refused": retry_later()}

    async def quick(request: web.Request) -> web.Response:
        return hot_response(copy.deepcopy(answers[request.match_info["name"]]))

    async def adapted(request: web.Request) -> web.Response:
        return await to_aiohttp_response(copy.deepcopy(answers[request.match_info["name"]]))

    app = web.Application()
    app.router.add_get("/quick/{name}", quick)
    app.router.add_get("/adapted/{name}", adapted)
    async with TestServer(app) as server, ClientSession() as session:
        for name in answers:
            sent = []
            for how in ("quick", "adapted"):
                async with session.get(server.make_url(f"/{how}/{name}")) as resp:
                    headers = {k: v for k, v in resp.headers.items() if k != "Date"}
                    sent.append((resp.status, headers, await resp.read()))
            assert sent[0] == sent[1], name
