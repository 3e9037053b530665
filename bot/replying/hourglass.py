"""Show that a slow reply is on its way: an hourglass reaction, removed when the work ends."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from slack_sdk.web.async_client import AsyncWebClient

from bot.transports.slack_client import SLACK_ERRORS

log = logging.getLogger(__name__)

PROGRESS_REACTION = "hourglass_flowing_sand"
# Fast replies need no hourglass; it would only flicker.
PROGRESS_DELAY_SECONDS = 0.5


@contextlib.asynccontextmanager
async def show_progress(
    client: AsyncWebClient, *, channel: str, ts: str, delay: float = PROGRESS_DELAY_SECONDS
) -> AsyncIterator[None]:
    """React with an hourglass on ``ts`` if the body takes longer than ``delay``; then remove it."""
    adding = asyncio.Event()
    added = asyncio.Event()

    async def add_later() -> None:
        await asyncio.sleep(delay)
        adding.set()
        if await _react(client, "add", channel=channel, ts=ts):
            added.set()

    waiter = asyncio.create_task(add_later(), name="progress")
    try:
        yield
    finally:
        # Once reactions.add is under way, let it finish so the hourglass is not left behind.
        if not adding.is_set():
            waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiter
        if added.is_set():
            await _react(client, "remove", channel=channel, ts=ts)


async def _react(client: AsyncWebClient, verb: str, *, channel: str, ts: str) -> bool:
    # Progress is cosmetic: a failure here must never cost the reply itself.
    method = client.reactions_add if verb == "add" else client.reactions_remove
    try:
        await method(channel=channel, timestamp=ts, name=PROGRESS_REACTION)
    except SLACK_ERRORS as exc:
        log.info("progress reaction failed", extra={"verb": verb, "error": type(exc).__name__})
        return False
    return True
