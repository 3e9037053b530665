"""Work items on the wire: the Pub/Sub message body, and the push envelope Cloud Run receives.

Pure functions, no SDK: the bot's push route imports :func:`decode_push` without loading
google-cloud-pubsub. A push subscription POSTs (see
https://cloud.google.com/pubsub/docs/push#receive_push)::

    {"message": {"data": BASE64, "attributes": {...}, "messageId": "...", "publishTime": "..."},
     "subscription": "projects/P/subscriptions/S", "deliveryAttempt": 2}

``deliveryAttempt`` is there only when the subscription has a dead-letter policy. A 2xx answer
acks the message; anything else (or no answer before the ack deadline) redelivers it after the
retry policy's backoff.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from tuning.errors import PushError, QueueError
from tuning.json_text import dumps
from tuning.queue.base import WorkItem
from tuning.records import frozen_mapping

# Far above any work item; a larger body is refused before it is parsed.
MAX_BODY_BYTES = 1024 * 1024


def encode_item(item: WorkItem) -> bytes:
    """Return the message data for ``item``: JSON with its key, kind, payload and not_before.

    >>> encode_item(WorkItem(key="k", kind="reply", payload={"ts": "1.2"}))
    b'{"key":"k","kind":"reply","payload":{"ts":"1.2"},"not_before":null}'
    """
    body = {
        "key": item.key,
        "kind": item.kind,
        "payload": dict(item.payload),
        "not_before": None if item.not_before is None else item.not_before.isoformat(),
    }
    try:
        return dumps(body).encode("utf-8")
    except (TypeError, ValueError, UnicodeEncodeError) as exc:
        raise QueueError(f"work item {item.key!r} cannot be sent as JSON: {exc}") from exc


def decode_item(data: bytes) -> WorkItem:
    """Return the work item in message ``data``; raise PushError if it is not one.

    >>> decode_item(b'{"key":"k","kind":"reply","payload":{},"not_before":null}').key
    'k'
    """
    try:
        body = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise PushError(f"message data is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise PushError("message data is not a JSON object")
    key, kind, payload = body.get("key"), body.get("kind"), body.get("payload")
    not_before = body.get("not_before")
    if not isinstance(key, str) or not key or not isinstance(kind, str) or not kind:
        raise PushError("message data has no key or kind")
    if not isinstance(payload, dict):
        raise PushError("message data has no payload object")
    if not_before is not None and not isinstance(not_before, str):
        raise PushError("message data has a not_before that is not a timestamp")
    try:
        when = None if not_before is None else datetime.fromisoformat(not_before)
    except ValueError:
        raise PushError(f"message data has a bad not_before {not_before!r}") from None
    if when is not None and when.utcoffset() is None:
        raise PushError("message data has a not_before without a time zone")
    return WorkItem(key=key, kind=kind, payload=frozen_mapping(payload), not_before=when)


def decode_push(body: bytes) -> tuple[WorkItem, int]:
    """Return the work item in a push request body and its delivery attempt (1 if not told).

    Raise PushError for anything that is not a push envelope holding a work item.
    """
    if len(body) > MAX_BODY_BYTES:
        raise PushError(f"push body of {len(body)} bytes is over {MAX_BODY_BYTES}")
    try:
        envelope: Any = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise PushError("push body is not JSON") from None
    message = envelope.get("message") if isinstance(envelope, dict) else None
    if not isinstance(message, dict):
        raise PushError("push body has no message object")
    data = message.get("data")
    if not isinstance(data, str):
        raise PushError("push message has no base64 data")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise PushError("push message data is not base64") from None
    return decode_item(raw), _attempt(envelope)


def _attempt(envelope: dict[str, Any]) -> int:
    attempt = envelope.get("deliveryAttempt", 1)
    # bool is an int in Python; a JSON true is not an attempt count.
    if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 1:
        raise PushError(f"push deliveryAttempt {attempt!r} is not a positive whole number")
    return attempt
