"""App Home: publish the dashboard whenever someone opens the Home tab."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.admin.kit import AdminKit
from bot.services import Services

log = logging.getLogger(__name__)


def register(app: AsyncApp, services: Services, kit: AdminKit) -> None:
    """Register the app_home_opened listener."""

    async def handle_home(event: dict[str, Any], client: AsyncWebClient) -> None:
        # Published after the ack: Bolt answers Slack only once a listener returns.
        services.tasks.spawn(
            handle_app_home_opened(kit, event=event, client=client), name="app-home"
        )

    app.event("app_home_opened")(handle_home)


async def handle_app_home_opened(
    kit: AdminKit, *, event: dict[str, Any], client: AsyncWebClient
) -> None:
    """Publish the Home view for the user who opened it (the Messages tab needs nothing)."""
    if event.get("tab", "home") != "home" or not event.get("user"):
        return
    try:
        await kit.publish_home(client, user=str(event["user"]))
    except Exception:  # a listener's last line of defence: log, never crash Bolt
        log.exception("could not publish App Home", extra={"user": event.get("user")})
