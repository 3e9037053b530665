"""Fuzz the HTTP edge with signed, arbitrary Slack-like bodies: never a 500, never a crash."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.runtime import RunningBot
from bot.views.messages import FORGET_ME_ACTION
from bot.workspace import BOT_USER_ID, YOU, Workspace, sign
from bot.workspace.payloads import build_envelope
from tests.harness import SECRET, Harness, bot_replies

T = TypeVar("T")
FORM = "application/x-www-form-urlencoded"


class ThreadedBot:
    """The harness on a loop in a thread, so sync hypothesis tests can drive it."""

    def __init__(self, root: Path, template: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.harness = self.run(Harness.start(root, template=template))
        self.ws: Workspace = self.harness.ws
        self.bot: RunningBot = self.harness.bot
        self.url = self.harness.url()

    def run(self, work: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(work, self.loop)
        return future.result(timeout)

    def close(self) -> None:
        self.run(self.harness.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture(scope="module")
def threaded(tmp_path_factory: pytest.TempPathFactory, bot_template: Path) -> Iterator[ThreadedBot]:
    bot = ThreadedBot(tmp_path_factory.mktemp("fuzz"), bot_template)
    try:
        yield bot
    finally:
        bot.close()


def _post(
    url: str, body: bytes, content_type: str = "application/json", *, secret: str = SECRET
) -> int:
    stamp = str(int(time.time()))
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": sign(secret, stamp, body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
ids = st.sampled_from(["U_YOU", "U_BOT", "C_GENERAL", "D_YOU", "1700000000.000100", ""])
field_values = json_values | ids | st.text(max_size=40)
event_types = st.sampled_from(
    ["app_mention", "message", "reaction_added", "reaction_removed", "app_home_opened", "x"]
)
EVENT_FIELDS: tuple[str, ...] = ("user", "channel", "text", "ts", "thread_ts", "subtype")
EVENT_FIELDS += ("channel_type", "bot_id", "reaction", "item", "event_ts")
events = st.fixed_dictionaries(
    {"type": event_types | json_values},
    optional=dict.fromkeys(EVENT_FIELDS, field_values),
)
envelopes = st.fixed_dictionaries(
    {"type": st.sampled_from(["event_callback", "block_actions", "url_verification"]) | st.text()},
    optional={
        "event": events | json_values,
        "event_id": st.text(max_size=12) | json_values,
        "team_id": field_values,
        "user": field_values,
        "actions": json_values,
        "challenge": field_values,
        "authorizations": json_values,
    },
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(envelopes)
def test_fuzzed_event_bodies_never_get_a_500(threaded, envelope):
    status = _post(threaded.url, json.dumps(envelope).encode())
    assert status < 500, envelope


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["application/json", FORM]))
def test_fuzzed_raw_bodies_never_get_a_500(threaded, body, content_type):
    assert _post(threaded.url, body, content_type) < 500


def test_the_bot_still_answers_after_the_fuzz(threaded):
    ws = threaded.ws

    async def mention() -> list[dict[str, Any]]:
        await threaded.bot.services.tasks.join()
        ts = await ws.post_message(user=YOU, channel="C_RANDOM", text=f"<@{BOT_USER_ID}> still up?")
        return await ws.wait_for(lambda: bot_replies(ws, "C_RANDOM", ts))

    assert len(threaded.run(mention())) == 1


# -- real payload shapes, mutated deeply ----------------------------------------------------------

REAL_SHAPES: list[dict[str, Any]] = [
    build_envelope(
        {
            "type": "app_mention",
            "user": YOU,
            "text": f"<@{BOT_USER_ID}> hi",
            "ts": "1700000000.000100",
            "channel": "C_GENERAL",
            "event_ts": "1700000000.000100",
        },
        event_id="EvFUZZ1",
    ),
    build_envelope(
        {
            "type": "message",
            "user": YOU,
            "text": "oh great",
            "ts": "1700000000.000200",
            "channel": "C_GENERAL",
            "channel_type": "channel",
            "event_ts": "1700000000.000200",
        },
        event_id="EvFUZZ2",
    ),
    build_envelope(
        {
            "type": "reaction_added",
            "user": YOU,
            "reaction": "+1",
            "item": {"type": "message", "channel": "C_GENERAL", "ts": "1700000000.000300"},
            "event_ts": "1700000000.000400",
        },
        event_id="EvFUZZ3",
    ),
    {
        "type": "block_actions",
        "user": {"id": YOU, "username": "you", "team_id": "T1"},
        "team": {"id": "T1", "domain": "x"},
        "container": {"type": "message", "message_ts": "1.2", "channel_id": "C_GENERAL"},
        "channel": {"id": "C_GENERAL", "name": "general"},
        "response_url": "http://127.0.0.1:1/nowhere",
        "actions": [{"action_id": FORGET_ME_ACTION, "block_id": "b", "action_ts": "1.3"}],
    },
    {"type": "block_suggestion", "user": {"id": YOU}, "action_id": "a", "block_id": "b"},
    {"type": "view_submission", "user": {"id": YOU}, "view": {"id": "V1", "state": {}}},
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replace(copy[path[0]], path[1:], new)
    return copy


def _deep(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


mutants = st.one_of(
    json_values,
    st.text(min_size=1000, max_size=5000),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=40, max_value=400).map(_deep),
)


@st.composite
def mutated_payloads(draw: st.DrawFn) -> dict[str, Any]:
    payload: Any = draw(st.sampled_from(REAL_SHAPES))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(_paths(payload)))
        payload = _replace(payload, path, draw(mutants))
    return payload if isinstance(payload, dict) else {"type": "block_actions", "x": payload}


def _encode(payload: dict[str, Any]) -> tuple[bytes, str]:
    if payload.get("type") == "event_callback":
        return json.dumps(payload).encode(), "application/json"
    return urllib.parse.urlencode({"payload": json.dumps(payload)}).encode(), FORM


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_payloads())
def test_mutated_real_payloads_never_get_a_5xx(threaded, payload):
    body, content_type = _encode(payload)
    assert _post(threaded.url, body, content_type) < 500, payload


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_payloads() | st.sampled_from(REAL_SHAPES))
def test_unsigned_bodies_are_never_processed(threaded, payload):
    body, content_type = _encode(payload)
    before = len(threaded.ws.calls())
    assert _post(threaded.url, body, content_type, secret="not-the-secret") == 401
    threaded.run(threaded.bot.services.tasks.join())
    assert len(threaded.ws.calls()) == before
