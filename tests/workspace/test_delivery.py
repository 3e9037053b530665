"""What the emulator sends the app: signed envelopes, commands, interactions and retries."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from aiohttp import web
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.workspace import ALEX, APP_ID, BOT_USER_ID, TEAM_ID, YOU, Workspace
from tests.workspace.conftest import Received, Receiver


def _verified(ws: Workspace, got: Received) -> bool:
    return SignatureVerifier(ws.signing_secret).is_valid_request(got.body, got.headers)


def _events(receiver: Receiver) -> list[dict]:
    return [json.loads(r.body) for r in receiver.requests if r.body.startswith(b"{")]


async def test_mention_delivers_app_mention_and_message(ws: Workspace, receiver: Receiver) -> None:
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"<@{BOT_USER_ID}> hello?")
    envelopes = _events(receiver)
    assert sorted(e["event"]["type"] for e in envelopes) == ["app_mention", "message"]
    assert len({e["event_id"] for e in envelopes}) == 2
    for env in envelopes:
        assert env["type"] == "event_callback"
        assert (env["team_id"], env["api_app_id"]) == (TEAM_ID, APP_ID)
        assert env["authorizations"][0]["user_id"] == BOT_USER_ID
        assert isinstance(env["event_time"], int)
        assert env["event"]["ts"] == ts
        assert env["event"]["channel"] == "C_GENERAL"
    message = next(e["event"] for e in envelopes if e["event"]["type"] == "message")
    assert message["channel_type"] == "channel"
    assert all(_verified(ws, r) for r in receiver.requests)


async def test_signature_fails_with_another_secret(ws: Workspace, receiver: Receiver) -> None:
    await ws.post_message(user=YOU, channel="C_GENERAL", text="plain")
    got = receiver.requests[0]
    assert _verified(ws, got)
    assert not SignatureVerifier("another-secret").is_valid_request(got.body, got.headers)


async def test_no_events_from_channels_without_the_bot(ws: Workspace, receiver: Receiver) -> None:
    await ws.post_message(user=YOU, channel="C_WATERCOOLER", text=f"<@{BOT_USER_ID}> hi")
    assert receiver.requests == []


async def test_thread_reply_event_carries_thread_ts(ws: Workspace, receiver: Receiver) -> None:
    parent = await ws.post_message(user=YOU, channel="C_GENERAL", text="root")
    await ws.post_message(user=ALEX, channel="C_GENERAL", text="reply", thread_ts=parent)
    reply = _events(receiver)[-1]["event"]
    assert (reply["thread_ts"], reply["parent_user_id"]) == (parent, YOU)


async def test_reactions_deliver_item_and_item_user(ws: Workspace, receiver: Receiver) -> None:
    ts = await ws.post_message(user=ALEX, channel="C_GENERAL", text="rate me")
    await ws.add_reaction(user=YOU, channel="C_GENERAL", ts=ts, name="+1")
    await ws.remove_reaction(user=YOU, channel="C_GENERAL", ts=ts, name="+1")
    added, removed = (e["event"] for e in _events(receiver)[-2:])
    assert added["type"] == "reaction_added"
    assert removed["type"] == "reaction_removed"
    assert added["item"] == {"type": "message", "channel": "C_GENERAL", "ts": ts}
    assert (added["user"], added["item_user"], added["reaction"]) == (YOU, ALEX, "+1")


async def test_bot_calls_deliver_its_own_events(
    ws: Workspace, receiver: Receiver, client: AsyncWebClient
) -> None:
    ts = (await client.chat_postMessage(channel="C_GENERAL", text="beep"))["ts"]
    await client.reactions_add(channel="C_GENERAL", timestamp=ts, name="upside_down_face")
    await ws.settle()
    kinds = [
        (e["event"]["type"], e["event"].get("bot_id"), e["event"].get("user"))
        for e in _events(receiver)
    ]
    assert ("message", "B_BOT", BOT_USER_ID) in kinds
    assert ("reaction_added", None, BOT_USER_ID) in kinds


async def test_home_opened(ws: Workspace, receiver: Receiver) -> None:
    await ws.open_home(user=ALEX)
    event = _events(receiver)[-1]["event"]
    assert (event["type"], event["user"], event["tab"], event["channel"]) == (
        "app_home_opened",
        ALEX,
        "home",
        "D_ALEX",
    )


async def test_slash_command_form_and_immediate_reply(ws: Workspace, receiver: Receiver) -> None:
    receiver.answer = lambda _: web.json_response({"text": "usage: /sarcasm help"})
    reply = await ws.slash_command(user=ALEX, channel="C_RANDOM", text="help")
    got = receiver.last_form("command")
    form = {k: v[0] for k, v in parse_qs(got.body.decode()).items()}
    assert _verified(ws, got)
    assert (form["command"], form["text"], form["user_id"], form["channel_id"]) == (
        "/sarcasm",
        "help",
        ALEX,
        "C_RANDOM",
    )
    assert form["response_url"].startswith(ws.base_url)
    assert form["trigger_id"]
    assert reply.status == 200
    assert [e.text for e in ws.ephemerals(user=ALEX)] == ["usage: /sarcasm help"]


async def test_response_url_posts_ephemeral_then_in_channel(
    ws: Workspace, receiver: Receiver
) -> None:
    await ws.slash_command(user=YOU, channel="C_GENERAL", text="status")
    form = {k: v[0] for k, v in parse_qs(receiver.last_form("command").body.decode()).items()}
    hook = AsyncWebhookClient(form["response_url"])
    assert (await hook.send(text="queued")).status_code == 200
    assert (await hook.send(text="promoted", response_type="in_channel")).status_code == 200
    assert [e.text for e in ws.ephemerals(user=YOU)] == ["queued"]
    assert ws.messages("C_GENERAL")[-1]["text"] == "promoted"


async def test_button_click_on_home_sends_block_actions(ws: Workspace, receiver: Receiver) -> None:
    button = {
        "type": "button",
        "action_id": "retrain",
        "value": "classifier",
        "text": {"type": "plain_text", "text": "Retrain"},
    }
    ws.state.publish_home(
        user=YOU,
        view={
            "type": "home",
            "blocks": [{"type": "actions", "block_id": "admin", "elements": [button]}],
        },
        hash_=None,
    )
    await ws.click_button(user=YOU, action_id="retrain")
    payload = json.loads(parse_qs(receiver.last_form("payload").body.decode())["payload"][0])
    assert payload["type"] == "block_actions"
    assert payload["user"]["id"] == YOU
    assert payload["container"]["type"] == "view"
    action = payload["actions"][0]
    assert (action["action_id"], action["block_id"], action["value"]) == (
        "retrain",
        "admin",
        "classifier",
    )
    assert payload["trigger_id"]


async def test_redelivery_sets_retry_headers(ws: Workspace, receiver: Receiver) -> None:
    await ws.post_message(user=YOU, channel="C_GENERAL", text="once")
    event_id = ws.events("message")[0]["event_id"]
    await ws.redeliver(event_id, retry_num=2, reason="http_error")
    first, retry = receiver.requests
    assert first.body == retry.body
    assert "X-Slack-Retry-Num" not in first.headers
    assert (retry.headers["X-Slack-Retry-Num"], retry.headers["X-Slack-Retry-Reason"]) == (
        "2",
        "http_error",
    )
    assert _verified(ws, retry)


async def test_unreachable_app_is_recorded_not_raised(ws: Workspace) -> None:
    ws.event_url = "http://127.0.0.1:9/slack/events"
    await ws.post_message(user=YOU, channel="C_GENERAL", text="anyone?")
    assert ws.deliveries()[0].replies[0].status == 0
