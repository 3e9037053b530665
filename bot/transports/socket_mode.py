"""Socket Mode: Slack pushes requests over a websocket opened with the app-level token."""

from __future__ import annotations

import logging

from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

log = logging.getLogger(__name__)


class SocketModeTransport:
    """Connect the app through Socket Mode; ``apps.connections.open`` goes to SLACK_API_URL."""

    def __init__(self, app: AsyncApp, *, app_token: str) -> None:
        # The handler's Web API client defaults to app.client, which already uses SLACK_API_URL.
        self._handler = AsyncSocketModeHandler(app, app_token=app_token)

    async def start(self) -> None:
        """Open the websocket and start receiving requests."""
        await self._handler.connect_async()
        log.info("connected in Socket Mode")

    async def stop_accepting(self) -> None:
        """Disconnect so Slack delivers new requests to another connection."""
        await self._handler.disconnect_async()

    async def close(self) -> None:
        """Release the client's resources."""
        await self._handler.close_async()
