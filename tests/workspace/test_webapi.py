"""The emulator's Web API, through slack_sdk's real AsyncWebClient: shapes, errors, retries."""

from __future__ import annotations

import time

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.workspace import ALEX, BOT_ID, BOT_USER_ID, TEAM_ID, YOU, Workspace

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def _error(call: object) -> str:
    with pytest.raises(SlackApiError) as caught:
        await call  # type: ignore[misc]
    return str(caught.value.response["error"])


async def test_auth_test_names_the_bot(client: AsyncWebClient) -> None:
    resp = await client.auth_test()
    assert (resp["user_id"], resp["bot_id"], resp["team_id"]) == (BOT_USER_ID, BOT_ID, TEAM_ID)


async def test_wrong_or_missing_token_is_refused(ws: Workspace) -> None:
    wrong = AsyncWebClient(token="xoxb-wrong", base_url=ws.api_url)
    assert await _error(wrong.auth_test()) == "invalid_auth"
    assert await _error(AsyncWebClient(base_url=ws.api_url).auth_test()) == "not_authed"
    app_level = AsyncWebClient(token=ws.app_token, base_url=ws.api_url)
    assert await _error(app_level.chat_postMessage(channel="C_GENERAL", text="x")) == (
        "not_allowed_token_type"
    )


async def test_post_and_thread_reply_shapes(ws: Workspace, client: AsyncWebClient) -> None:
    parent = await ws.post_message(user=YOU, channel="C_GENERAL", text="is it Friday yet")
    resp = await client.chat_postMessage(channel="C_GENERAL", text="sure", thread_ts=parent)
    assert resp["channel"] == "C_GENERAL"
    assert resp["message"]["bot_id"] == BOT_ID
    assert resp["message"]["thread_ts"] == parent
    thread = await client.conversations_replies(channel="C_GENERAL", ts=parent)
    assert [m["ts"] for m in thread["messages"]] == [parent, resp["ts"]]
    assert thread["messages"][0]["reply_count"] == 1
    assert thread["messages"][0]["reply_users"] == [BOT_USER_ID]
    assert thread["messages"][1]["parent_user_id"] == YOU
    # a reply to a reply joins the root's thread, as on Slack
    nested = await client.chat_postMessage(channel="C_GENERAL", text="x", thread_ts=resp["ts"])
    assert nested["message"]["thread_ts"] == parent


async def test_thread_ts_malformed_or_unknown(ws: Workspace, client: AsyncWebClient) -> None:
    bad = client.chat_postMessage(channel="C_GENERAL", text="x", thread_ts="")
    assert await _error(bad) == "invalid_thread_ts"
    # Slack accepts a well-formed ts naming no message; the reply is an orphan nobody sees.
    orphan = await client.chat_postMessage(channel="C_GENERAL", text="x", thread_ts="12.000001")
    assert orphan["message"]["thread_ts"] == "12.000001"
    assert ws.messages("C_GENERAL") == []


async def test_history_is_newest_first_and_pages(ws: Workspace, client: AsyncWebClient) -> None:
    sent = [await ws.post_message(user=ALEX, channel="C_RANDOM", text=f"m{i}") for i in range(5)]
    first = await client.conversations_history(channel="C_RANDOM", limit=3)
    assert [m["ts"] for m in first["messages"]] == sent[::-1][:3]
    assert first["has_more"] is True
    cursor = first["response_metadata"]["next_cursor"]
    rest = await client.conversations_history(channel="C_RANDOM", limit=3, cursor=cursor)
    assert [m["ts"] for m in rest["messages"]] == sent[::-1][3:]
    assert rest["has_more"] is False


@pytest.mark.parametrize(
    ("channel", "error"),
    [
        ("C_WATERCOOLER", "not_in_channel"),
        ("G_PRIVATE", "channel_not_found"),
        ("C_NOPE", "channel_not_found"),
    ],
)
async def test_channel_errors(client: AsyncWebClient, channel: str, error: str) -> None:
    assert await _error(client.chat_postMessage(channel=channel, text="hi")) == error


async def test_message_errors(ws: Workspace, client: AsyncWebClient) -> None:
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text="mine")
    assert await _error(client.chat_update(channel="C_GENERAL", ts="1.000001", text="x")) == (
        "message_not_found"
    )
    assert await _error(client.chat_update(channel="C_GENERAL", ts=ts, text="x")) == (
        "cant_update_message"
    )
    with pytest.warns(UserWarning, match="text"):  # slack_sdk warns too, then sends it
        assert await _error(client.chat_postMessage(channel="C_GENERAL", text="")) == "no_text"
    assert await _error(client.conversations_replies(channel="C_GENERAL", ts="9.9")) == (
        "thread_not_found"
    )


async def test_update_and_delete_own_message(ws: Workspace, client: AsyncWebClient) -> None:
    ts = (await client.chat_postMessage(channel="C_GENERAL", text="draft"))["ts"]
    updated = await client.chat_update(channel="C_GENERAL", ts=ts, text="final")
    assert updated["message"]["text"] == "final"
    assert "edited" in updated["message"]
    await client.chat_delete(channel="C_GENERAL", ts=ts)
    assert ws.messages("C_GENERAL") == []


async def test_reactions_and_their_errors(ws: Workspace, client: AsyncWebClient) -> None:
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text="react to me")
    await client.reactions_add(channel="C_GENERAL", timestamp=ts, name="thumbsup")
    err = await _error(client.reactions_add(channel="C_GENERAL", timestamp=ts, name="+1"))
    assert err == "already_reacted"
    got = await client.reactions_get(channel="C_GENERAL", timestamp=ts)
    assert got["message"]["reactions"] == [{"name": "+1", "users": [BOT_USER_ID], "count": 1}]
    await client.reactions_remove(channel="C_GENERAL", timestamp=ts, name="+1")
    err = await _error(client.reactions_remove(channel="C_GENERAL", timestamp=ts, name="+1"))
    assert err == "no_reaction"
    err = await _error(client.reactions_add(channel="C_GENERAL", timestamp="1.1", name="x"))
    assert err == "message_not_found"
    err = await _error(client.reactions_add(channel="C_GENERAL", timestamp=ts, name="no way"))
    assert err == "invalid_name"


async def test_ephemeral_goes_to_one_user(ws: Workspace, client: AsyncWebClient) -> None:
    resp = await client.chat_postEphemeral(channel="C_GENERAL", user=ALEX, text="psst")
    assert resp["message_ts"]
    assert [e.text for e in ws.ephemerals(user=ALEX)] == ["psst"]
    assert ws.ephemerals(user=YOU) == []
    err = await _error(client.chat_postEphemeral(channel="C_GENERAL", user="U_GHOST", text="x"))
    assert err == "user_not_found"


async def test_users_info_reports_admins(client: AsyncWebClient) -> None:
    you = (await client.users_info(user=YOU))["user"]
    alex = (await client.users_info(user=ALEX))["user"]
    assert (you["is_admin"], you["is_owner"], alex["is_admin"]) == (True, True, False)
    assert await _error(client.users_info(user="U_GHOST")) == "user_not_found"


async def test_conversations_info(client: AsyncWebClient) -> None:
    info = (await client.conversations_info(channel="C_GENERAL"))["channel"]
    assert (info["name"], info["is_member"], info["is_private"]) == ("general", True, False)


async def test_views_publish_stores_the_home_view(ws: Workspace, client: AsyncWebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    resp = await client.views_publish(user_id=YOU, view={"type": "home", "blocks": blocks})
    assert resp["view"]["type"] == "home"
    assert resp["view"]["id"].startswith("V")
    home = ws.home_view(YOU)
    assert home is not None
    assert home["blocks"] == blocks
    too_many = [{"type": "divider"}] * 101
    err = await _error(client.views_publish(user_id=YOU, view={"type": "home", "blocks": too_many}))
    assert err == "invalid_arguments"
    assert await _error(client.views_open(trigger_id="nope", view={"type": "modal"})) == (
        "invalid_trigger_id"
    )


async def test_ratelimited_is_honoured_by_the_retry_handler(ws: Workspace) -> None:
    client = AsyncWebClient(
        token=ws.bot_token,
        base_url=ws.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    ws.fail_next("chat.postMessage", status=429, retry_after=1)
    started = time.monotonic()
    resp = await client.chat_postMessage(channel="C_GENERAL", text="eventually")
    assert resp["ok"] is True
    assert time.monotonic() - started >= 1.0
    assert [c.status for c in ws.calls("chat.postMessage")] == [429, 200]


async def test_ratelimited_without_retry_raises_with_retry_after(
    ws: Workspace, client: AsyncWebClient
) -> None:
    ws.fail_next("reactions.add", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as caught:
        await client.reactions_add(channel="C_GENERAL", timestamp="1.1", name="x")
    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "7"


async def test_server_errors_are_retried(ws: Workspace) -> None:
    client = AsyncWebClient(
        token=ws.bot_token,
        base_url=ws.api_url,
        retry_handlers=[AsyncServerErrorRetryHandler(max_retry_count=2)],
    )
    ws.fail_next("chat.postMessage", status=500, times=2)
    resp = await client.chat_postMessage(channel="C_GENERAL", text="third time lucky")
    assert resp["ok"] is True
    assert [c.status for c in ws.calls("chat.postMessage")] == [500, 500, 200]


async def test_files_upload_v2_end_to_end(ws: Workspace, client: AsyncWebClient) -> None:
    parent = await ws.post_message(user=YOU, channel="C_GENERAL", text="chart please")
    resp = await client.files_upload_v2(
        channel="C_GENERAL",
        thread_ts=parent,
        content=PNG,
        filename="chart.png",
        title="Feedback per day",
        initial_comment="Here you go",
    )
    assert resp["file"]["title"] == "Feedback per day"
    assert resp["file"]["mimetype"] == "image/png"
    reply = ws.replies("C_GENERAL", parent)[-1]
    assert reply["text"] == "Here you go"
    assert reply["files"][0]["id"] == resp["file"]["id"]
    async with (
        aiohttp.ClientSession() as session,
        session.get(reply["files"][0]["url_private"]) as got,
    ):
        assert got.status == 200
        assert await got.read() == PNG


async def test_form_encoded_and_json_bodies_are_equivalent(ws: Workspace) -> None:
    headers = {"Authorization": f"Bearer {ws.bot_token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        form = {"channel": "C_GENERAL", "text": "form", "blocks": '[{"type": "divider"}]'}
        async with session.post(ws.api_url + "chat.postMessage", data=form) as resp:
            by_form = await resp.json()
        body = {"channel": "C_GENERAL", "text": "json", "blocks": [{"type": "divider"}]}
        async with session.post(ws.api_url + "chat.postMessage", json=body) as resp:
            by_json = await resp.json()
        async with session.post(ws.api_url + "no.suchMethod") as resp:
            unknown = await resp.json()
    assert by_form["message"]["blocks"] == by_json["message"]["blocks"] == [{"type": "divider"}]
    assert unknown == {"ok": False, "error": "unknown_method"}
    assert [c.method for c in ws.calls()][-1] == "no.suchMethod"


async def test_message_metadata_is_stored_and_returned_only_when_asked(
    ws: Workspace, client: AsyncWebClient
) -> None:
    parent = await ws.post_message(user=YOU, channel="C_GENERAL", text="meta?")
    meta = {"event_type": "sarcasm_bot_reply", "event_payload": {"interaction_id": "i1"}}
    resp = await client.chat_postMessage(
        channel="C_GENERAL", text="sure", thread_ts=parent, metadata=meta
    )
    assert resp["message"]["metadata"] == meta
    plain = await client.conversations_replies(channel="C_GENERAL", ts=parent)
    assert "metadata" not in plain["messages"][1]
    full = await client.conversations_replies(
        channel="C_GENERAL", ts=parent, include_all_metadata=True
    )
    assert full["messages"][1]["metadata"] == meta
    history = await client.conversations_history(channel="C_GENERAL", include_all_metadata=True)
    assert "metadata" not in history["messages"][0]  # the parent has none


@pytest.mark.parametrize(
    ("metadata", "error"),
    [
        ("{not json", "invalid_metadata_format"),
        ('["a"]', "invalid_metadata_format"),
        ('{"event_type": "x"}', "invalid_metadata_format"),
        ('{"event_type": "x", "event_payload": "y"}', "invalid_metadata_format"),
        ('{"event_payload": {}}', "invalid_metadata_schema"),
        ('{"event_type": "has space", "event_payload": {}}', "invalid_metadata_schema"),
        ('{"event_type": "x", "event_payload": {"p": "' + "a" * 9000 + '"}}', "metadata_too_large"),
    ],
)
async def test_malformed_metadata_is_refused(
    client: AsyncWebClient, metadata: str, error: str
) -> None:
    call = client.api_call(
        "chat.postMessage", json={"channel": "C_GENERAL", "text": "x", "metadata": metadata}
    )
    assert await _error(call) == error
