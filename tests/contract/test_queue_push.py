"""Push envelopes: a work item and its attempt out of what Pub/Sub POSTs, or one clear error."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tuning.errors import PushError, QueueError
from tuning.queue.base import WorkItem
from tuning.queue.push import decode_item, decode_push, encode_item

ITEM = WorkItem(
    key="T1:Ev1",
    kind="reply",
    payload={"text": "oh great 🙄", "nested": {"a": [1, None]}},
    not_before=datetime(2026, 1, 1, 12, tzinfo=UTC),
)


def envelope(data: Any, **top: Any) -> bytes:
    message = {"data": data, "attributes": {"kind": "reply"}, "messageId": "1"}
    return json.dumps(
        {"message": message, "subscription": "projects/p/subscriptions/s", **top}
    ).encode()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_an_item_round_trips_through_a_push_envelope() -> None:
    assert decode_push(envelope(b64(encode_item(ITEM)), deliveryAttempt=3)) == (ITEM, 3)


def test_without_a_dead_letter_policy_the_attempt_is_one() -> None:
    assert decode_push(envelope(b64(encode_item(ITEM))))[1] == 1


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[" * 1000 + b"]" * 1000, "not JSON|no message"),  # at the parser's limit
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),  # deeper than the parser goes
        (b"[]", "no message"),
        (b'{"message": "x"}', "no message"),
        (b'{"message": {}}', "no base64 data"),
        (b'{"message": {"data": 5}}', "no base64 data"),
        (envelope("not base64!"), "not base64"),
        (envelope(b64(b"plain text")), "not JSON"),
        (envelope(b64(b"[1]")), "not a JSON object"),
        (envelope(b64(b'{"key": "k", "kind": ""}')), "no key or kind"),
        (envelope(b64(b'{"key": "k", "kind": "r", "payload": []}')), "payload"),
        (envelope(b64(b'{"key": "k", "kind": "r", "payload": {}, "not_before": 5}')), "timestamp"),
        (envelope(b64(b'{"key":"k","kind":"r","payload":{},"not_before":"soon"}')), "not_before"),
        (
            envelope(b64(b'{"key":"k","kind":"r","payload":{},"not_before":"2026-01-01T12:00"}')),
            "time zone",
        ),
        (envelope(b64(encode_item(ITEM)), deliveryAttempt="2"), "deliveryAttempt"),
        (envelope(b64(encode_item(ITEM)), deliveryAttempt=True), "deliveryAttempt"),
        (envelope(b64(encode_item(ITEM)), deliveryAttempt=0), "deliveryAttempt"),
        (b" " * (1024 * 1024 + 1), "over"),
    ],
)
def test_a_malformed_envelope_is_one_push_error(body: bytes, fragment: str) -> None:
    with pytest.raises(PushError, match=fragment) as caught:
        decode_push(body)
    assert isinstance(caught.value, QueueError)
    assert isinstance(caught.value, ValueError)
    assert "\n" not in str(caught.value)


def test_decode_item_reads_what_encode_item_writes() -> None:
    assert decode_item(encode_item(ITEM)) == ITEM
