"""Buttons: App Home retrain / promote / rollback (admins) and forget-me (everyone).

Button values are re-parsed as `/sarcasm` text, so a forged value meets the same validation
and the same admin check as a typed command.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.admin.commands import UsageError, parse_command
from bot.admin.kit import AdminKit
from bot.admin.runner import SORRY, Answer, Caller
from bot.services import Services
from bot.views.home import PROMOTE_ACTION, RETRAIN_ACTION, ROLLBACK_ACTION
from bot.views.messages import FORGET_ME_ACTION
from bot.work.event_work import Work
from bot.work.intake import enqueue
from bot.work.kinds import FORGET, forget_key
from bot.work.routes import Handler

log = logging.getLogger(__name__)
_VERBS = {RETRAIN_ACTION: "retrain", PROMOTE_ACTION: "promote", ROLLBACK_ACTION: "rollback"}
HOME_ACTIONS = re.compile(rf"^({RETRAIN_ACTION}|{PROMOTE_ACTION}|{ROLLBACK_ACTION}):")


def register(app: AsyncApp, services: Services, kit: AdminKit) -> None:
    """Register the Home buttons and the forget-me button."""

    async def handle_home_button(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        kit.services.tasks.spawn(
            handle_admin_button(kit, body=body, action=action, client=client), name="home-button"
        )

    async def handle_forget(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        # Durable before the ack: a crash after it must not lose the deletion (bot/work/).
        user = str((body.get("user") or {}).get("id") or "")
        key = forget_key(user=user, body=body)
        await enqueue(services, context, Work(FORGET, key), body)
        await ack()

    app.action(HOME_ACTIONS)(handle_home_button)
    app.action(FORGET_ME_ACTION)(handle_forget)


async def handle_admin_button(
    kit: AdminKit, *, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
) -> None:
    """Run the button's command for the clicking user, then re-publish their Home."""
    user = str((body.get("user") or {}).get("id") or "")
    verb = _VERBS.get(str(action.get("action_id", "")).split(":", 1)[0], "")
    args = str(action.get("value") or "").replace(":", " ")
    try:
        command = parse_command(f"{verb} {args}")
        caller = Caller(user=user, is_admin=await kit.is_admin(client, user))
        answer = await kit.runner.run(command, caller, client)
    except UsageError as error:
        answer = Answer(f":warning: {error}")
    except Exception:  # any bug: the admin gets one line, the log the traceback
        log.exception("home button failed", extra={"user": user})
        answer = Answer(SORRY)
    await _republish(kit, client, user, answer.text)


def forget_handler(kit: AdminKit) -> Handler:
    """Return the work handler that deletes the clicking user's data and tells them what went."""

    async def forget(
        services: Services, client: AsyncWebClient, payload: Mapping[str, Any]
    ) -> None:
        body = payload.get("body")
        await handle_forget_me(kit, body=body if isinstance(body, Mapping) else {}, client=client)

    return forget


async def handle_forget_me(
    kit: AdminKit, *, body: Mapping[str, Any], client: AsyncWebClient
) -> None:
    """Delete the clicking user's data; answer in the message, or on Home when clicked there.

    A failure to delete raises, so the work item is tried again; only the answer is best-effort.
    """
    user = str((body.get("user") or {}).get("id") or "")
    answer = await kit.runner.forget(Caller(user=user))
    url = body.get("response_url")
    if (body.get("container") or {}).get("type") == "view" or not isinstance(url, str):
        await _republish(kit, client, user, answer.text)
        return
    try:
        await AsyncWebhookClient(url).send(
            text=answer.text, replace_original=True, response_type="ephemeral"
        )
    except Exception:  # Slack refusing the answer must not hide (or redo) the deletion
        log.exception("could not answer forget-me", extra={"user": user})


async def _republish(kit: AdminKit, client: AsyncWebClient, user: str, notice: str) -> None:
    try:
        await kit.publish_home(client, user=user, notice=notice)
    except Exception:  # Home is a view; failing to refresh it is only logged
        log.exception("could not re-publish App Home", extra={"user": user})
