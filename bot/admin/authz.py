"""Who is an admin: ADMIN_USER_IDS, or a workspace admin or owner per users.info, cached briefly.

https://docs.slack.dev/reference/methods/users.info: ``user.is_admin`` / ``user.is_owner``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from slack_sdk.web.async_client import AsyncWebClient

from bot.admin.commands import ADMIN_SUBCOMMANDS
from bot.transports.slack_client import SLACK_ERRORS

log = logging.getLogger(__name__)

# Long enough to spare users.info on a burst of clicks, short enough that a demoted admin
# loses access within a minute.
CACHE_SECONDS = 60.0


class Authorizer:
    """Answer "may this user run admin commands?" from config and users.info."""

    def __init__(
        self,
        *,
        admin_user_ids: Iterable[str],
        ttl: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.admin_user_ids = frozenset(admin_user_ids)
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, bool]] = {}

    async def is_admin(self, client: AsyncWebClient, *, user: str) -> bool:
        """Return whether ``user`` is an admin; a failed users.info lookup means no (and logs)."""
        if user in self.admin_user_ids:
            return True
        cached = self._cache.get(user)
        now = self._clock()
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        try:
            response = await client.users_info(user=user)
        except SLACK_ERRORS as error:
            log.warning("users.info failed; treating as non-admin", extra={"error": str(error)})
            return False
        info = response.get("user") or {}
        admin = bool(info.get("is_admin") or info.get("is_owner") or info.get("is_primary_owner"))
        self._cache[user] = (now, admin)
        return admin

    @staticmethod
    def needs_admin(subcommand: str) -> bool:
        """Return whether a subcommand is for admins only."""
        return subcommand in ADMIN_SUBCOMMANDS
