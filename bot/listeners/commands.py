"""`/sarcasm`: ack at once (bad text and help answered in the ack), the rest after the ack."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.admin.commands import Command, Help, Stats, UsageError, help_lines, parse_command
from bot.admin.kit import AdminKit
from bot.admin.runner import SORRY, Caller
from bot.services import Services
from bot.views.messages import build_help_blocks, build_usage_error_blocks

log = logging.getLogger(__name__)
WORKING = ":hourglass_flowing_sand: Working on it…"


def register(app: AsyncApp, services: Services, kit: AdminKit) -> None:
    """Register the `/sarcasm` command."""

    async def handle_sarcasm(
        ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await handle_sarcasm_command(kit, ack=ack, command=command, client=client, respond=respond)

    app.command("/sarcasm")(handle_sarcasm)


async def handle_sarcasm_command(
    kit: AdminKit,
    *,
    ack: AsyncAck,
    command: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
) -> None:
    """Acknowledge within Slack's 3 s, then run the command in the background."""
    try:
        parsed = parse_command(str(command.get("text") or ""))
    except UsageError as error:
        blocks = build_usage_error_blocks(str(error), error.usage)
        await ack(response_type="ephemeral", text=str(error), blocks=blocks)
        return
    if isinstance(parsed, Help):
        await ack(
            response_type="ephemeral",
            text="sarcasm-bot usage",
            blocks=build_help_blocks(help_lines(parsed.topic), one=parsed.topic is not None),
        )
        return
    # Rendering and uploading the chart takes a moment; say so. Other answers come quickly
    # (a retrain's thread appears at once), and a "working" line would race them.
    if isinstance(parsed, Stats):
        await ack(response_type="ephemeral", text=WORKING)
    else:
        await ack()
    kit.services.tasks.spawn(
        _run(kit, parsed, command, client, respond), name=f"sarcasm-{type(parsed).__name__}"
    )


async def _run(
    kit: AdminKit,
    parsed: Command,
    command: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
) -> None:
    user = str(command.get("user_id") or "")
    try:
        caller = Caller(
            user=user,
            channel=str(command.get("channel_id") or ""),
            response_url=command.get("response_url"),
            is_admin=await kit.is_admin(client, user),
        )
        answer = await kit.runner.run(parsed, caller, client)
        await respond(response_type="ephemeral", text=answer.text, blocks=answer.blocks)
    except Exception:  # see below: the runner itself never raises
        # The runner never raises; this is Slack refusing the answer itself. Try one plain line.
        log.exception("could not answer /sarcasm", extra={"user": user})
        try:
            await respond(response_type="ephemeral", text=SORRY)
        except Exception:  # the apology is best effort
            log.exception("could not send the apology either")
