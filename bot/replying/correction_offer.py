"""After a 👎 on a bot reply, offer its giver a button to suggest a better reply."""

from __future__ import annotations

import logging

from slack_sdk.web.async_client import AsyncWebClient

from bot.transports.slack_client import SLACK_ERRORS
from bot.views.corrections import build_offer_blocks
from tuning.records import Interaction

log = logging.getLogger(__name__)


async def offer_correction(client: AsyncWebClient, interaction: Interaction, *, user: str) -> None:
    """Show ``user`` (who gave a 👎) a button to suggest a better reply; never raise."""
    try:
        await client.chat_postEphemeral(
            channel=interaction.channel,
            user=user,
            thread_ts=interaction.thread_ts,
            text="Suggest a better reply?",
            blocks=build_offer_blocks(interaction.id),
        )
    except SLACK_ERRORS:
        log.warning("could not offer a correction", extra={"interaction": interaction.id})
