"""Payload shapes Bolt would crash on: each gets a 4xx (or 200 and ignored), never a 5xx."""

import json
import time
import urllib.parse
from typing import Any

import aiohttp
import pytest

from bot.views.messages import FORGET_ME_ACTION
from bot.workspace import BOT_USER_ID, YOU, sign
from bot.workspace.payloads import build_envelope
from tests.harness import SECRET, post_signed, stored

FORM = "application/x-www-form-urlencoded"


def _event(**fields: Any) -> dict[str, Any]:
    event = {"type": "message", "user": YOU, "text": "hi", "ts": "1700000000.000100"}
    event.update({"channel": "C_GENERAL", "channel_type": "channel", **fields})
    return build_envelope(event, event_id="EvSHAPE")


def _interaction(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "block_actions", "user": {"id": YOU}, "team": {"id": "T1"}}
    actions = [{"action_id": FORGET_ME_ACTION, "block_id": "b", "action_ts": "1.2"}]
    body.update({"actions": actions, **fields})
    return body


def _form(payload: str | dict[str, Any]) -> bytes:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return urllib.parse.urlencode({"payload": text}).encode()


def _nested(depth: int) -> str:
    # Built as text: json.dumps itself recurses too deep for this.
    return '{"a": ' * depth + '"x"' + "}" * depth


def _encode(case: bytes | dict[str, Any]) -> bytes:
    return case if isinstance(case, bytes) else json.dumps(case).encode()


JSON_CASES: dict[str, bytes | dict[str, Any]] = {
    "nested 1,000 deep": ('{"type": "event_callback", "event": ' + _nested(1000) + "}").encode(),
    "nested list 5,000 deep": b"[" * 5000 + b"]" * 5000,
    "subtype as a list": _event(subtype=["thread_broadcast"]),
    "channel_type as a list": _event(channel_type=["channel"]),
    "channel_type as a dict": _event(channel_type={"a": 1}),
    "ts as a list": _event(ts=["1.2"]),
    "text as a dict": _event(text={"t": 1}),
    "thread_ts as a number": _event(thread_ts=5),
    "event_id as a dict": {**_event(), "event_id": {"x": 1}},
}
FORM_CASES: dict[str, dict[str, Any]] = {
    "action_id as a number": _interaction(actions=[{"action_id": 5}]),
    "action_id as a list": _interaction(actions=[{"action_id": ["a"]}]),
    "view as a string": {"type": "view_submission", "user": {"id": YOU}, "view": "v"},
    "block_suggestion": {
        "type": "block_suggestion",
        "user": {"id": YOU},
        "action_id": "a",
        "block_id": "b",
        "value": "x",
    },
    "block_suggestion without ids": {"type": "block_suggestion", "user": {"id": YOU}},
    "user as a string": _interaction(user=YOU),
    "container as a string": _interaction(container="view"),
    "user without an id": _interaction(user={"name": "x"}),
}
DEEP_PAYLOAD = '{"type": "block_actions", "user": {"id": "U"}, "state": ' + _nested(1000) + "}"


@pytest.mark.parametrize("name", list(JSON_CASES))
async def test_malformed_event_bodies_never_get_a_5xx(harness, name):
    status, _, _ = await post_signed(harness.url(), _encode(JSON_CASES[name]))
    assert status < 500, name
    await harness.idle()
    assert await stored(harness.store) == []


async def test_a_deep_interaction_is_400(harness):
    status, _, _ = await post_signed(harness.url(), _form(DEEP_PAYLOAD), content_type=FORM)
    assert status == 400


@pytest.mark.parametrize("name", list(FORM_CASES))
async def test_malformed_interactions_never_get_a_5xx(harness, name):
    status, _, _ = await post_signed(harness.url(), _form(FORM_CASES[name]), content_type=FORM)
    assert status < 500, name
    await harness.idle()
    posted = [c for c in harness.ws.calls() if c.method == "chat.postMessage"]
    assert posted == []


@pytest.mark.parametrize("stamp", ["abc", "", "1e9", " 12", "-1", "9" * 40])
async def test_a_bad_timestamp_is_401_before_anything_runs(harness, stamp):
    body = json.dumps(_event(text=f"<@{BOT_USER_ID}> hi")).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": sign(SECRET, stamp, body),
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(harness.url(), data=body, headers=headers) as resp,
    ):
        assert resp.status == 401
    await harness.idle()
    assert await stored(harness.store) == []


async def test_an_unknown_payload_type_is_200_and_ignored(harness):
    status, _, _ = await post_signed(harness.url(), {"type": "something_new", "x": 1})
    assert status == 200
    status, _, _ = await post_signed(
        harness.url(), _form({"type": "something_new", "user": {"id": YOU}}), content_type=FORM
    )
    assert status == 200


async def test_an_unsigned_deep_body_is_401_not_400(harness):
    body = b"[" * 5000 + b"]" * 5000
    stamp = str(int(time.time()))
    status, _, _ = await post_signed(harness.url(), body, secret="wrong", timestamp=int(stamp))
    assert status == 401


async def test_a_block_suggestion_gets_an_empty_option_list(harness):
    payload = FORM_CASES["block_suggestion"]
    status, text, _ = await post_signed(harness.url(), _form(payload), content_type=FORM)
    assert (status, json.loads(text)) == (200, {"options": []})
