"""Buttons in messages, response URLs that replace or delete, and modals through views.open."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import aiohttp
import pytest
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.workspace import ALEX, YOU, Workspace
from tests.workspace.conftest import REASON_MODAL, Received, Receiver

BUTTON = {
    "type": "actions",
    "block_id": "confirm",
    "elements": [
        {
            "type": "button",
            "action_id": "forget_me",
            "value": "yes",
            "text": {"type": "plain_text", "text": "Delete"},
        }
    ],
}


def _payload(got: Received) -> dict:
    return json.loads(parse_qs(got.body.decode())["payload"][0])


async def test_ephemeral_button_then_replace_original(
    ws: Workspace, receiver: Receiver, client: AsyncWebClient
) -> None:
    await client.chat_postEphemeral(channel="C_GENERAL", user=YOU, text="sure?", blocks=[BUTTON])
    eph = ws.ephemerals(user=YOU)[0]
    await ws.click_button(user=YOU, action_id="forget_me", channel="C_GENERAL", ts=eph.ts)
    payload = _payload(receiver.last_form("payload"))
    assert payload["container"] == {
        "type": "message",
        "message_ts": eph.ts,
        "channel_id": "C_GENERAL",
        "is_ephemeral": True,
    }
    assert payload["actions"][0]["value"] == "yes"
    hook = AsyncWebhookClient(payload["response_url"])
    await hook.send(text="Deleted 3 items.", replace_original=True)
    assert [e.text for e in ws.ephemerals(user=YOU)] == ["Deleted 3 items."]
    await hook.send(text="", delete_original=True)
    assert ws.ephemerals(user=YOU) == []


async def test_message_button_response_url_replaces_the_message(
    ws: Workspace, receiver: Receiver, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel="C_GENERAL", text="vote", blocks=[BUTTON])
    await ws.click_button(user=ALEX, action_id="forget_me", channel="C_GENERAL", ts=posted["ts"])
    payload = _payload(receiver.last_form("payload"))
    assert payload["message"]["ts"] == posted["ts"]
    assert payload["channel"]["id"] == "C_GENERAL"
    await AsyncWebhookClient(payload["response_url"]).send(text="voted", replace_original=True)
    assert ws.messages("C_GENERAL")[-1]["text"] == "voted"


async def test_response_url_expires_after_five_uses(ws: Workspace, receiver: Receiver) -> None:
    await ws.slash_command(user=YOU, channel="C_GENERAL", text="jobs")
    url = parse_qs(receiver.last_form("command").body.decode())["response_url"][0]
    async with aiohttp.ClientSession() as session:
        statuses = []
        for i in range(6):
            async with session.post(url, json={"text": f"#{i}"}) as resp:
                statuses.append(resp.status)
    assert statuses == [200] * 5 + [404]


async def test_views_open_with_a_fresh_trigger_then_submit(
    ws: Workspace, receiver: Receiver, client: AsyncWebClient
) -> None:
    await ws.slash_command(user=YOU, channel="C_GENERAL", text="forget-me")
    trigger = parse_qs(receiver.last_form("command").body.decode())["trigger_id"][0]
    opened = await client.views_open(trigger_id=trigger, view=REASON_MODAL)
    assert opened["view"]["callback_id"] == "why"
    assert ws.modal(YOU) is not None
    with pytest.raises(SlackApiError) as reused:  # a trigger opens one view
        await client.views_open(trigger_id=trigger, view=REASON_MODAL)
    assert reused.value.response["error"] == "invalid_trigger_id"
    ws.trigger_ttl = 0.0
    await ws.slash_command(user=YOU, channel="C_GENERAL", text="forget-me")
    stale = parse_qs(receiver.last_form("command").body.decode())["trigger_id"][0]
    with pytest.raises(SlackApiError) as expired:
        await client.views_open(trigger_id=stale, view=REASON_MODAL)
    assert expired.value.response["error"] == "expired_trigger_id"


async def test_submit_view_sends_state_values(ws: Workspace, receiver: Receiver) -> None:
    receiver.answer = lambda _: web.Response(status=200)
    await ws.slash_command(user=YOU, channel="C_GENERAL", text="x")
    ws.state.open_modal(
        user=YOU, view={"type": "modal", "callback_id": "why", "blocks": [{"type": "divider"}]}
    )
    values = {"reason": {"text": {"type": "plain_text_input", "value": "privacy"}}}
    await ws.submit_view(user=YOU, values=values)
    payload = _payload(receiver.last_form("payload"))
    assert payload["type"] == "view_submission"
    assert payload["view"]["state"]["values"] == values
    assert ws.modal(YOU) is None


@pytest.mark.parametrize(
    ("answer", "open_after", "errors"),
    [
        (
            {"response_action": "errors", "errors": {"reason": "Say more"}},
            True,
            {"reason": "Say more"},
        ),
        # Slack refuses errors on a block that is not an input of the view: its generic line.
        (
            {"response_action": "errors", "errors": {"nope": "Say more"}},
            True,
            {"": "We had some trouble connecting. Try again?"},
        ),
        ({"response_action": "clear"}, False, {}),
        ({}, False, {}),
    ],
)
async def test_a_submission_answer_keeps_shows_errors_or_closes_as_slack_does(
    ws: Workspace, receiver: Receiver, answer: dict, open_after: bool, errors: dict
) -> None:
    receiver.answer = lambda _: web.json_response(answer)
    ws.state.open_modal(user=YOU, view=REASON_MODAL)
    values = {"reason": {"text": {"type": "plain_text_input", "value": ""}}}
    await ws.submit_view(user=YOU, values=values)
    assert (ws.modal(YOU) is not None) == open_after
    assert ws.modal_errors(YOU) == errors


async def test_cancel_closes_the_modal_and_its_errors(ws: Workspace, receiver: Receiver) -> None:
    receiver.answer = lambda _: web.json_response(
        {"response_action": "errors", "errors": {"reason": "Say more"}}
    )
    ws.state.open_modal(user=YOU, view=REASON_MODAL)
    await ws.submit_view(user=YOU, values={})
    ws.close_view(user=YOU)
    assert ws.modal(YOU) is None
    assert ws.modal_errors(YOU) == {}
