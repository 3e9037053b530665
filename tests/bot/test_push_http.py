"""Pub/Sub push delivery: the emulator POSTs each work item to the bot, whose answer acks it.

The real Pub/Sub emulator pushes to the bot's loopback /pubsub/push; Slack is the emulated
workspace. Tokens are Google-style ID tokens signed here, checked by google-auth against a
certificates endpoint served by a fake transport (the protocol boundary).
"""

from __future__ import annotations

import base64
import json
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import google.auth.crypt
import google.auth.jwt
import google.auth.transport
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.runtime import RunningBot, start_bot
from bot.transports.push_auth import CachedCertsRequest, PushVerifier
from bot.work.kinds import KINDS, MENTION, mention_key
from bot.work.push import PUSH_PATH
from bot.work.routes import work_payload
from bot.workspace import BOT_USER_ID, YOU, Workspace
from tests.contract.test_queue import PUBSUB_PROJECT
from tests.harness import HOST, SECRET, bot_replies, bot_settings, stored
from tuning.errors import PushError
from tuning.queue.base import WorkItem
from tuning.queue.pubsub import PubSubQueue
from tuning.queue.push import decode_push, encode_item
from tuning.store.sqlite.store import SqliteStore

pytestmark = pytest.mark.emulator
MENTION_TEXT = f"<@{BOT_USER_ID}>"
AUDIENCE = "https://sarcasm-bot.example.run.app/pubsub/push"
ACCOUNT = "pubsub-push@sarcasm-bot-test.iam.gserviceaccount.com"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KEY_ID = "test-key-1"


class CertsResponse(google.auth.transport.Response):
    """What https://www.googleapis.com/oauth2/v1/certs answers: key ids to PEM keys."""

    def __init__(self) -> None:
        public = KEY.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self._data = json.dumps({KEY_ID: public.decode()}).encode()

    @property
    def status(self) -> int:
        return 200

    @property
    def headers(self) -> Mapping[str, str]:
        return {"content-type": "application/json"}

    @property
    def data(self) -> bytes:
        return self._data


class FakeGoogleCerts(google.auth.transport.Request):
    """Google's certificates endpoint, counting how often it is asked."""

    def __init__(self) -> None:
        self.fetches = 0

    def __call__(self, url: str, method: str = "GET", *args: Any, **kwargs: Any) -> CertsResponse:
        self.fetches += 1
        return CertsResponse()


def id_token(**claims: Any) -> str:
    """Return an ID token as Google signs them for a push subscription's service account."""
    now = int(time.time())
    private = KEY.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    signer = google.auth.crypt.RSASigner.from_string(private, key_id=KEY_ID)
    payload = {
        "iss": "https://accounts.google.com",
        "aud": AUDIENCE,
        "email": ACCOUNT,
        "email_verified": True,
        "sub": "1234567890",
        "iat": now,
        "exp": now + 3600,
        **claims,
    }
    return google.auth.jwt.encode(signer, payload).decode()


@dataclass
class PushBot:
    """A workspace, a push-mode bot and its Pub/Sub queue on the emulator."""

    ws: Workspace
    bot: RunningBot
    queue: PubSubQueue
    store: SqliteStore

    @property
    def push_url(self) -> str:
        return f"http://{HOST}:{self.bot.port}{PUSH_PATH}"

    async def post(self, body: bytes, *, token: str | None = None) -> int:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.push_url, data=body, headers=headers) as resp,
        ):
            return resp.status


@pytest.fixture
def push_verifier() -> PushVerifier | None:
    """No verifier: the emulator pushes without a token (PUBSUB_EMULATOR_HOST is set)."""
    return None


@pytest.fixture
async def push_bot(
    pubsub_emulator: str, tmp_path: Path, bot_template: Path, push_verifier: PushVerifier | None
) -> AsyncIterator[PushBot]:
    shutil.copytree(bot_template, tmp_path, dirs_exist_ok=True)
    ws = Workspace(signing_secret=SECRET)
    await ws.start()
    topic = f"work-{uuid.uuid4().hex[:10]}"
    env = {
        "QUEUE_URL": f"pubsub://{PUBSUB_PROJECT}/{topic}",
        "PUBSUB_EMULATOR_HOST": pubsub_emulator,
    }
    settings_ = bot_settings(ws, tmp_path, **env)
    store = SqliteStore(tmp_path / "store.db")
    await store.open()
    # The shortest backoff Pub/Sub allows, so that a redelivery comes within a test's patience.
    queue = PubSubQueue(
        project=PUBSUB_PROJECT,
        topic=topic,
        kinds=KINDS,
        store=store,
        push=True,
        min_backoff=timedelta(seconds=1),
        max_backoff=timedelta(seconds=2),
    )
    await queue.open()
    bot = await start_bot(
        settings_, host=HOST, port=0, store=store, queue=queue, push_verifier=push_verifier
    )
    pushed = PushBot(ws=ws, bot=bot, queue=queue, store=store)
    await queue.subscribe_push(endpoint=pushed.push_url)
    ws.event_url = f"http://{HOST}:{bot.port}/slack/events"
    try:
        yield pushed
    finally:
        await bot.stop(drain_seconds=2)
        await ws.stop()
        await queue.close()
        await store.close()


def envelope(item: WorkItem, **top: Any) -> bytes:
    data = base64.b64encode(encode_item(item)).decode()
    message = {"data": data, "messageId": "1", "attributes": {"kind": item.kind}}
    return json.dumps(
        {"message": message, "subscription": "projects/p/subscriptions/s", **top}
    ).encode()


async def mention_item(ws: Workspace, text: str) -> tuple[str, WorkItem]:
    """Post a mention in the workspace (not delivered) and return its ts and work item."""
    ws.event_url = None
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"{MENTION_TEXT} {text}")
    [event] = ws.events("app_mention")
    item = WorkItem(
        key=mention_key(channel="C_GENERAL", ts=ts),
        kind=MENTION,
        payload=work_payload(event, bot_user_id=BOT_USER_ID),
    )
    return ts, item


async def test_a_mention_is_answered_once_through_push(push_bot: PushBot) -> None:
    ws = push_bot.ws
    assert push_bot.bot.worker is None  # nothing leases: Pub/Sub brings the work
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"{MENTION_TEXT} push me")
    await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", ts), timeout=20)
    await ws.settle()
    assert len(bot_replies(ws, "C_GENERAL", ts)) == 1
    assert len(await stored(push_bot.store, "generate")) == 1


@pytest.mark.realtime
async def test_a_failed_push_is_nacked_and_redelivered(push_bot: PushBot) -> None:
    ws = push_bot.ws
    # The post is rate limited: the route answers 429 and nothing else here retries (no worker),
    # so only Pub/Sub's redelivery, after the subscription's backoff, can post the reply.
    ws.fail_next("chat.postMessage", status=429, retry_after=600, times=1)
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"{MENTION_TEXT} later?")
    await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", ts), timeout=30)
    await ws.settle()
    assert [c.status for c in ws.calls("chat.postMessage")] == [429, 200]
    assert len(bot_replies(ws, "C_GENERAL", ts)) == 1


@pytest.mark.realtime
async def test_a_redelivered_push_looks_in_the_thread_before_posting(push_bot: PushBot) -> None:
    ws = push_bot.ws
    # Slack applies the post and the answer is lost, and the lookup fails too: the item is
    # nacked. The emulator sends no deliveryAttempt, yet the redelivery counts as attempt 2.
    ws.fail_next("chat.postMessage", status=0, times=1, after_apply=True)
    ws.fail_next("conversations.replies", status=500, times=3)
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"{MENTION_TEXT} lost?")
    await ws.wait_for(
        lambda: [c for c in ws.calls("conversations.replies") if c.status == 200], timeout=30
    )
    await ws.settle()
    assert len(bot_replies(ws, "C_GENERAL", ts)) == 1
    assert len(ws.calls("chat.postMessage")) == 1


async def test_a_rate_limited_item_is_nacked_then_done_once(push_bot: PushBot) -> None:
    ws = push_bot.ws
    ts, item = await mention_item(ws, "slowly")
    ws.fail_next("chat.postMessage", status=429, retry_after=600, times=1)
    assert await push_bot.post(envelope(item)) == 429  # nacked: Pub/Sub's backoff brings it back
    assert bot_replies(ws, "C_GENERAL", ts) == []
    assert await push_bot.post(envelope(item, deliveryAttempt=2)) == 204
    assert await push_bot.post(envelope(item, deliveryAttempt=3)) == 204  # a duplicate push
    assert len(bot_replies(ws, "C_GENERAL", ts)) == 1


@pytest.mark.parametrize(
    "push_verifier",
    [PushVerifier(audience=AUDIENCE, service_account=ACCOUNT, request=FakeGoogleCerts())],
)
async def test_only_pushes_signed_by_google_for_the_account_run(push_bot: PushBot) -> None:
    ws = push_bot.ws
    ts, item = await mention_item(ws, "who are you?")
    body = envelope(item)
    refused = {
        "no token": await push_bot.post(body),
        "not a JWT": await push_bot.post(body, token="abc.def.ghi"),
        "other audience": await push_bot.post(body, token=id_token(aud="https://evil.example")),
        "other issuer": await push_bot.post(body, token=id_token(iss="https://evil.example")),
        "expired": await push_bot.post(body, token=id_token(iat=1, exp=2)),
        "other account": await push_bot.post(body, token=id_token(email="me@evil.example")),
        "unverified": await push_bot.post(body, token=id_token(email_verified=False)),
    }
    assert refused == {
        "no token": 401,
        "not a JWT": 401,
        "other audience": 401,
        "other issuer": 401,
        "expired": 401,
        "other account": 403,
        "unverified": 403,
    }
    assert ws.calls("chat.postMessage") == []  # no work ran for any of them
    assert await push_bot.post(b"{}", token=id_token()) == 400  # the token first, then the body
    assert await push_bot.post(body, token=id_token()) == 204
    assert len(bot_replies(ws, "C_GENERAL", ts)) == 1


def test_certificates_are_fetched_once_while_fresh() -> None:
    now = [0.0]
    certs = FakeGoogleCerts()
    cached = CachedCertsRequest(certs, ttl=60, clock=lambda: now[0])
    cached("https://www.googleapis.com/oauth2/v1/certs")
    cached("https://www.googleapis.com/oauth2/v1/certs")
    assert certs.fetches == 1
    now[0] = 61
    cached("https://www.googleapis.com/oauth2/v1/certs")
    assert certs.fetches == 2


def json_values() -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=20,
    )


def mutated_envelopes() -> st.SearchStrategy[bytes]:
    """Envelopes shaped as Pub/Sub's, with any part replaced by anything, or raw bytes."""
    item: dict[str, Any] = {
        "key": "k",
        "kind": MENTION,
        "payload": {"body": {}},
        "not_before": None,
    }
    top = st.fixed_dictionaries(
        {"message": st.fixed_dictionaries({"data": json_values(), "messageId": json_values()})},
        optional={"deliveryAttempt": json_values(), "subscription": json_values()},
    )
    bad_items = st.dictionaries(
        st.sampled_from(["key", "kind", "payload", "not_before"]), json_values()
    ).map(lambda mutation: {**item, **mutation})
    wrapped = st.one_of(bad_items.map(json.dumps), json_values().map(json.dumps), st.text()).map(
        lambda data: {"message": {"data": base64.b64encode(data.encode()).decode()}}
    )
    return st.one_of(
        st.binary(max_size=200),
        json_values().map(lambda v: json.dumps(v).encode()),
        top.map(lambda v: json.dumps(v).encode()),
        wrapped.map(lambda v: json.dumps(v).encode()),
        st.integers(1, 2000).map(lambda depth: b"[" * depth + b"]" * depth),
    )


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=mutated_envelopes())
async def test_malformed_envelopes_get_400_never_500(push_bot: PushBot, body: bytes) -> None:
    try:
        decode_push(body)
    except PushError:
        malformed = True
    else:
        malformed = False
    status = await push_bot.post(body)
    if malformed:
        assert status == 400
    else:
        # A well-formed item with a payload no handler can do: acked (nothing to do) or nacked
        # for Pub/Sub to redeliver and dead-letter, never a 500.
        assert status in (204, 400, 503)
    assert push_bot.ws.calls("chat.postMessage") == []
