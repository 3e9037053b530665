"""Deliver events, slash commands and interactions to the app, by signed HTTP or Socket Mode.

HTTP requests are signed as https://docs.slack.dev/authentication/verifying-requests-from-slack/
describes; Socket Mode envelopes follow https://docs.slack.dev/apis/events-api/using-socket-mode/.
When a Socket Mode connection is open it wins, as it does on Slack.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from bot.workspace.model import APP_ID, JSON

log = logging.getLogger(__name__)
MAX_LOG = 20_000  # deliveries kept for tests and redelivery; a long session drops the oldest
ACK_TIMEOUT = 3.0  # Slack gives up on an unacknowledged request after 3 seconds


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Return the ``X-Slack-Signature`` for a request body (v0 HMAC-SHA256)."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class Reply:
    """What the app answered: HTTP status (0 when it never did), body and parsed payload."""

    status: int
    body: str = ""
    payload: JSON | None = None
    transport: str = "http"


@dataclass
class Delivery:
    """One thing sent to the app, with every attempt's reply (for tests and redelivery)."""

    kind: str  # events_api | slash_commands | interactive
    payload: JSON
    event_id: str | None = None
    replies: list[Reply] = field(default_factory=list)


class Deliverer:
    """Send payloads to the app over its open Socket Mode connection or its HTTP endpoint."""

    def __init__(self, *, signing_secret: str, event_url: str | None) -> None:
        self.signing_secret = signing_secret
        self.event_url = event_url
        self.log: list[Delivery] = []
        self._sockets: list[web.WebSocketResponse] = []
        self._acks: dict[str, asyncio.Future[JSON]] = {}
        self._session: aiohttp.ClientSession | None = None
        self._turn = 0
        self.ack_timeout = ACK_TIMEOUT

    @property
    def socket_connected(self) -> bool:
        """Return whether a Socket Mode client is connected."""
        return any(not s.closed for s in self._sockets)

    async def send(self, delivery: Delivery, *, retry_num: int = 0, reason: str = "") -> Reply:
        """Deliver once (a retry when ``retry_num`` > 0) and record the reply."""
        if delivery not in self.log:
            self.log.append(delivery)
            if len(self.log) > MAX_LOG:
                del self.log[: len(self.log) - MAX_LOG]
        if self.socket_connected:
            reply = await self._send_socket(delivery, retry_num=retry_num, reason=reason)
        elif self.event_url:
            reply = await self._send_http(delivery, retry_num=retry_num, reason=reason)
        else:
            reply = Reply(status=0, body="no app connected", transport="none")
        delivery.replies.append(reply)
        return reply

    async def _send_http(self, delivery: Delivery, *, retry_num: int, reason: str) -> Reply:
        assert self.event_url is not None
        if delivery.kind == "events_api":
            body, ctype = json.dumps(delivery.payload).encode(), "application/json"
        elif delivery.kind == "slash_commands":
            body, ctype = urlencode(delivery.payload).encode(), "application/x-www-form-urlencoded"
        else:
            form = {"payload": json.dumps(delivery.payload)}
            body, ctype = urlencode(form).encode(), "application/x-www-form-urlencoded"
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": ctype,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": sign(self.signing_secret, stamp, body),
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        if retry_num:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = reason or "http_error"
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.post(
                self.event_url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.ack_timeout),
            ) as resp:
                text = await resp.text()
                return Reply(status=resp.status, body=text, payload=_parse(text))
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("delivery to %s failed: %r", self.event_url, exc)
            return Reply(status=0, body=repr(exc))

    async def _send_socket(self, delivery: Delivery, *, retry_num: int, reason: str) -> Reply:
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "payload": delivery.payload,
            "type": delivery.kind,
            "accepts_response_payload": delivery.kind != "events_api",
        }
        if delivery.kind == "events_api":
            envelope.update(retry_attempt=retry_num, retry_reason=reason)
        live = [s for s in self._sockets if not s.closed]
        socket = live[self._turn % len(live)]  # Slack spreads envelopes over connections
        self._turn += 1
        waiter: asyncio.Future[JSON] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = waiter
        try:
            await socket.send_str(json.dumps(envelope))
            ack = await asyncio.wait_for(waiter, self.ack_timeout)
        except (TimeoutError, ConnectionError, RuntimeError) as exc:
            return Reply(status=0, body=repr(exc), transport="socket")
        finally:
            self._acks.pop(envelope_id, None)
        payload = ack.get("payload")
        return Reply(
            status=200,
            body=json.dumps(ack),
            payload=payload if isinstance(payload, dict) else None,
            transport="socket",
        )

    async def handle_socket(self, request: web.Request) -> web.WebSocketResponse:
        """Serve a Socket Mode connection: say hello, then read acks."""
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        self._sockets.append(socket)
        hello = {
            "type": "hello",
            "num_connections": len(self._sockets),
            "debug_info": {"host": "emulator", "approximate_connection_time": 18060},
            "connection_info": {"app_id": APP_ID},
        }
        await socket.send_str(json.dumps(hello))
        try:
            async for msg in socket:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                ack = _parse(msg.data)
                waiter = self._acks.get(str((ack or {}).get("envelope_id")))
                if ack is not None and waiter is not None and not waiter.done():
                    waiter.set_result(ack)
        finally:
            with contextlib.suppress(ValueError):
                self._sockets.remove(socket)
        return socket

    async def close(self) -> None:
        """Close Socket Mode connections and the HTTP session."""
        for socket in list(self._sockets):
            await socket.close()
        if self._session is not None:
            await self._session.close()
            self._session = None


def _parse(text: str) -> JSON | None:
    try:
        value = json.loads(text)
    except ValueError:
        return {"text": text} if text.strip() else None
    return value if isinstance(value, dict) else None
