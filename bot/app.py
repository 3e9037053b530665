"""Wire the Bolt app: client, noise filter, error handler and listeners. Nothing else."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.admin.kit import AdminKit
from bot.listeners import actions, commands, corrections, home, mentions, messages, reactions
from bot.services import Services
from bot.transports.shapes import is_malformed, is_unknown
from bot.transports.slack_client import TRANSPORT_ERRORS
from bot.work.intake import UNAVAILABLE, retry_later
from bot.work.noise import is_noise
from tuning.config import Settings

log = logging.getLogger(__name__)
# What Bolt answers (with a 200) when auth.test fails; SarcasmApp turns it into a 503.
AUTHORIZE_FAILED = "sarcasm-bot could not authorize with Slack; please retry"


class SarcasmApp(AsyncApp):
    """An AsyncApp that answers 400 to payloads Bolt would crash on (and answer 500).

    ``authorized`` is what its authorization last found (None until auth.test first answered):
    the hot path (bot/work/hot_events.py) needs the bot's ids without dispatching.
    """

    authorized: AuthorizeResult | None = None

    async def async_dispatch(self, req: AsyncBoltRequest) -> BoltResponse:
        """Refuse malformed payloads, ignore unknown ones, then dispatch as Bolt does."""
        if is_malformed(req.body):
            log.info("rejected a malformed payload")
            return BoltResponse(status=400, body="")
        if is_unknown(req.body):
            # A payload type Slack added later: acknowledged, so Slack does not retry it.
            return BoltResponse(status=200, body="")
        response = await super().async_dispatch(req)
        if req.context.authorize_result is not None:
            self.authorized = req.context.authorize_result
        if req.context.get(UNAVAILABLE) or response.body == AUTHORIZE_FAILED:
            # The work was not kept (the queue refused it, or auth.test failed and Bolt
            # answered 200 with its error line): a non-2xx makes Slack deliver it again.
            return retry_later()
        return response


def build_app(settings: Settings, services: Services, kit: AdminKit) -> SarcasmApp:
    """Return the AsyncApp with every listener registered; it acks once the work is queued."""
    app = SarcasmApp(
        client=services.make_client(),
        signing_secret=settings.slack.signing_secret or None,
        # Bolt answers Slack only after the listener returns: listeners put their work in the
        # queue (fast), so the 2xx means the work is kept. Admin work still runs on services.tasks.
        process_before_response=True,
        before_authorize=drop_noise,
        user_facing_authorize_error_message=AUTHORIZE_FAILED,
        logger=logging.getLogger("slack_bolt"),
    )
    app.error(handle_error)
    for module in (mentions, messages, reactions, corrections):
        module.register(app, services)
    for admin in (commands, home, actions):
        admin.register(app, services, kit)
    # Events nobody handles (mpim messages, member_joined_channel...) are acknowledged
    # quietly, so Slack does not retry them and Bolt does not log their bodies.
    app.event(re.compile(".*"))(_ignore)
    # No menu loads external options; a block_suggestion still gets the empty list Slack expects.
    app.options(re.compile(".*"))(_no_options)
    return app


async def drop_noise(
    body: dict[str, Any], next: Callable[[], Awaitable[None]]
) -> BoltResponse | None:
    """Acknowledge and drop bot messages, edits, deletions and joins before authorization."""
    if is_noise(body):
        return BoltResponse(status=200, body="")
    await next()
    return None


async def handle_error(
    error: Exception, body: dict[str, Any], context: AsyncBoltContext
) -> BoltResponse | None:
    """Log a listener's failure with ids only; the user-facing line is the listener's job.

    Slack unreachable before authorization (auth.test on a cold start) is answered 503, so
    that Slack retries, instead of Bolt's 500.
    """
    if context.authorize_result is None and isinstance(error, TRANSPORT_ERRORS):
        log.warning("auth.test could not reach Slack (%s); answering 503", type(error).__name__)
        return retry_later()
    event = body.get("event") if isinstance(body, dict) else None
    log.error(
        "listener failed",
        exc_info=error,
        extra={
            "event_id": body.get("event_id", "") if isinstance(body, dict) else "",
            "event_type": event.get("type", "") if isinstance(event, dict) else "",
            "payload_type": body.get("type", "") if isinstance(body, dict) else "",
        },
    )
    return None


async def _ignore() -> None:
    return None


async def _no_options(ack: AsyncAck) -> None:
    await ack(options=[])
