"""A 👎 can come with a better reply: the offer, the *Suggest a better reply* modal, its submission.

The modal must open within 3 seconds of the click (the trigger_id expires), so the button's
listener opens it right after the ack. The submission is checked and stored before the ack (a
store write is fast), so a bad one gets its inline error, a store that cannot take it leaves the
modal open with an error, and nothing acked is lost; only the ephemeral note comes after the ack.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.services import Services
from bot.transports.slack_client import SLACK_ERRORS
from bot.views.corrections import (
    CORRECTION_BLOCK,
    CORRECTION_VIEW,
    GONE,
    NOT_SAVED,
    OPTED_OUT,
    SUGGEST_ACTION,
    THANKS,
    Target,
    build_correction_modal,
    correction_problem,
    decode_target,
    submitted_text,
)
from tuning.errors import StoreError
from tuning.records import Correction
from tuning.redaction import redact

log = logging.getLogger(__name__)


def register(app: AsyncApp, services: Services) -> None:
    """Open the correction modal from the offer's button, and take its submissions."""

    async def on_suggest(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await handle_suggest(services, client, body=body)

    async def on_submit(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        view = body.get("view") or {}
        problem = correction_problem(submitted_text(view))
        if problem is not None:
            await ack(response_action="errors", errors={CORRECTION_BLOCK: problem})
            return
        try:
            found = await store_correction(services, body=body)
        except StoreError:
            log.exception("could not store a correction")
            await ack(response_action="errors", errors={CORRECTION_BLOCK: NOT_SAVED})
            return
        await ack()
        if found is not None:
            target, user, text = found
            services.tasks.spawn(
                _tell(client, target, user=user, text=text), name="correction", limited=True
            )

    app.action(SUGGEST_ACTION)(on_suggest)
    app.view(CORRECTION_VIEW)(on_submit)


async def handle_suggest(
    services: Services, client: AsyncWebClient, *, body: Mapping[str, Any]
) -> None:
    """Open the correction modal for the reply the clicked offer names."""
    user = str((body.get("user") or {}).get("id") or "")
    actions = body.get("actions") or [{}]
    interaction_id = str(actions[0].get("value") or "")
    interaction = await services.store.get_interaction(interaction_id) if interaction_id else None
    channel = str((body.get("container") or {}).get("channel_id") or "")
    if interaction is None:
        log.info("correction offered for a missing reply", extra={"interaction": interaction_id})
        await _tell(client, Target(interaction_id, channel), user=user, text=GONE)
        return
    target = Target(interaction.id, interaction.channel, interaction.thread_ts)
    if await services.store.is_opted_out(user=user):
        await _tell(client, target, user=user, text=OPTED_OUT)
        return
    view = build_correction_modal(target, reply=interaction.output)
    try:
        await client.views_open(trigger_id=str(body.get("trigger_id") or ""), view=view)
    except SLACK_ERRORS:
        extra = {"interaction": target.interaction_id}
        log.exception("could not open the correction modal", extra=extra)


async def store_correction(
    services: Services, *, body: Mapping[str, Any]
) -> tuple[Target, str, str] | None:
    """Store a submitted better reply, redacted, unless its writer opted out.

    Return where to tell whom what happened (thanks, opted out, gone), or None for a
    malformed submission; a store that cannot take it raises StoreError.
    """
    user = str((body.get("user") or {}).get("id") or "")
    view = body.get("view") or {}
    target = decode_target(str(view.get("private_metadata") or ""))
    text = submitted_text(view)
    if target is None or not user or correction_problem(text) is not None:
        log.warning("ignored a malformed correction submission", extra={"user": user})
        return None
    store = services.store
    if await store.is_opted_out(user=user):
        log.info("correction from an opted-out user; nothing stored")
        return target, user, OPTED_OUT
    if await store.get_interaction(target.interaction_id) is None:
        log.info("correction for a missing reply", extra={"interaction": target.interaction_id})
        return target, user, GONE
    correction = Correction(interaction_id=target.interaction_id, user=user, text=redact(text))
    await store.add_correction(correction)
    log.info("correction stored", extra={"interaction": target.interaction_id})
    return target, user, THANKS


async def _tell(client: AsyncWebClient, target: Target, *, user: str, text: str) -> None:
    """Show ``user`` one line beside the reply; log (never raise) when Slack refuses."""
    if not target.channel:
        return
    try:
        await client.chat_postEphemeral(
            channel=target.channel, user=user, thread_ts=target.thread_ts, text=text
        )
    except SLACK_ERRORS:
        log.warning("could not answer about a correction", extra={"user": user})
