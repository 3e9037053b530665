"""The HTTP edge: signatures, stale timestamps, malformed and oversized bodies, health."""

import json
import time

import aiohttp

from bot.transports.http import HEALTH_PATH, LIVE_PATH, MAX_BODY_BYTES
from bot.workspace import BOT_USER_ID, YOU, sign
from bot.workspace.payloads import build_envelope
from tests.harness import SECRET, Harness, post_signed, stored


def _mention(ts: str = "1700000000.000100", event_id: str = "EvEDGE") -> dict:
    event = {
        "type": "app_mention",
        "user": YOU,
        "text": f"<@{BOT_USER_ID}> hello",
        "ts": ts,
        "channel": "C_GENERAL",
        "event_ts": ts,
    }
    return build_envelope(event, event_id=event_id)


async def _nothing_happened(harness: Harness) -> None:
    await harness.idle()
    assert [c.method for c in harness.ws.calls() if c.method != "auth.test"] == []
    assert await stored(harness.bot.services.store) == []


async def test_bad_signature_is_rejected(harness):
    status, _, _ = await post_signed(harness.url(), _mention(), secret="not-the-secret")
    assert status == 401
    await _nothing_happened(harness)


async def test_six_minute_old_timestamp_is_rejected(harness):
    stale = int(time.time()) - 6 * 60
    status, _, _ = await post_signed(harness.url(), _mention(), timestamp=stale)
    assert status == 401
    await _nothing_happened(harness)


async def test_unsigned_request_is_rejected(harness):
    async with (
        aiohttp.ClientSession() as session,
        session.post(harness.url(), json=_mention()) as resp,
    ):
        assert resp.status == 401
    await _nothing_happened(harness)


async def test_malformed_bodies_get_4xx(harness):
    url = harness.url()
    cases = [
        (b"{not json", "application/json"),
        (b"\xff\xfe\x00garbage", "application/json"),
        (b"payload=%7Bbroken", "application/x-www-form-urlencoded"),
        (b"", "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (json.dumps({"type": "event_callback", "event": []}).encode(), "application/json"),
    ]
    for body, content_type in cases:
        status, _, _ = await post_signed(url, body, content_type=content_type)
        assert 400 <= status < 500 or status == 200, (body, status)
    await _nothing_happened(harness)


async def test_oversized_body_gets_413(harness):
    body = json.dumps({"type": "event_callback", "pad": "x" * (MAX_BODY_BYTES + 10)}).encode()
    status, _, _ = await post_signed(harness.url(), body)
    assert status == 413
    await _nothing_happened(harness)


async def test_health_reports_versions_and_store(harness):
    url = f"http://127.0.0.1:{harness.bot.port}{HEALTH_PATH}"
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as resp:
            assert resp.status == 200
            body = await resp.json()
        assert body["ok"] is True
        assert body["models"] == harness.bot.services.models.versions
        await harness.bot.services.store.close()  # the store stops answering
        async with session.get(url) as resp:
            assert resp.status == 503
            assert (await resp.json())["store"] == "unavailable"


async def test_liveness_stays_200_while_the_store_is_down(harness):
    base = f"http://127.0.0.1:{harness.bot.port}"
    async with aiohttp.ClientSession() as session:
        async with session.get(base + LIVE_PATH) as resp:
            assert resp.status == 200
            assert (await resp.json()) == {"ok": True}
        await harness.bot.services.store.close()  # the store stops answering
        async with session.get(base + HEALTH_PATH) as resp:
            assert resp.status == 503
        async with session.get(base + LIVE_PATH) as resp:
            assert resp.status == 200


async def test_health_is_503_when_the_queue_cannot_take_a_write(harness):
    url = f"http://127.0.0.1:{harness.bot.port}{HEALTH_PATH}"
    [queue] = harness.queues
    async with aiohttp.ClientSession() as session:
        for _ in range(2):  # probing twice in a row is still healthy
            async with session.get(url) as resp:
                assert resp.status == 200
                body = await resp.json()
        assert (body["queue"], body["depth"]) == ("ok", {})
        queue.broken = True  # a full disk
        async with session.get(url) as resp:
            assert resp.status == 503
            assert (await resp.json())["queue"] == "unavailable"
        queue.broken = False


async def _post_on(session: aiohttp.ClientSession, url: str, payload: dict) -> int:
    body = json.dumps(payload).encode()
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": sign(SECRET, stamp, body),
    }
    try:
        async with session.post(url, data=body, headers=headers) as resp:
            return resp.status
    except aiohttp.ClientError:
        return 0  # the connection was closed: no ack either


async def test_after_stop_accepting_nothing_is_acknowledged(harness):
    url = harness.url()
    async with aiohttp.ClientSession() as session:  # one keep-alive connection
        assert await _post_on(session, url, _mention(event_id="EvONE")) == 200
        harness.bot.transport.stopping = True  # a request racing the SIGTERM handler
        assert await _post_on(session, url, _mention(ts="1.2", event_id="EvTWO")) == 503
        await harness.bot.transport.stop_accepting()  # SIGTERM
        assert await _post_on(session, url, _mention(ts="1.3", event_id="EvTHREE")) in (0, 503)
    await harness.idle()
    [queue] = harness.queues
    assert list(await queue.states()) == ["mention:C_GENERAL:1700000000.000100"]
