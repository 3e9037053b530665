"""The first checks on a Slack request, before Bolt parses it: signature, then body shape.

Bolt's own signature check raises on a timestamp that is not a number (``int("abc")``) and
its JSON parsing raises RecursionError on deep nesting; both would be a 500.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import urllib.parse
from collections.abc import Mapping

from bot.transports.shapes import parse_json

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
# Slack's replay window: a request signed more than 5 minutes ago is refused.
MAX_AGE_SECONDS = 5 * 60


def is_signed(body: bytes, headers: Mapping[str, str], *, signing_secret: str, now: float) -> bool:
    """Return True if ``body`` carries a valid Slack signature made within 5 minutes of ``now``."""
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not _TIMESTAMP.fullmatch(timestamp) or not signature:
        return False
    if abs(now - int(timestamp)) > MAX_AGE_SECONDS:
        return False
    # https://docs.slack.dev/authentication/verifying-requests-from-slack, on the raw bytes
    # (slack_sdk's verifier decodes them as UTF-8 first, and raises on anything else).
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def parse_body(body: str, content_type: str) -> object | None:
    """Return ``body`` parsed (JSON, or a form's fields); None if Bolt could not parse it.

    The same branches as slack_bolt.request.internals.parse_body: a form's JSON ``payload`` is
    checked too, and an empty body is an empty form.
    """
    if content_type == "application/json" or body.startswith("{"):
        return parse_json(body) if body else {}
    form = dict(urllib.parse.parse_qsl(body, keep_blank_values=True))
    payload = form.get("payload")
    if "payload" in body and payload is not None and parse_json(payload) is None:
        return None
    return form
