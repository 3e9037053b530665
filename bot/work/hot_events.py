"""Queue channel messages, mentions and reactions straight from the request, not via Bolt.

Those events are nearly all a busy workspace sends, and Bolt's dispatch of one (its middleware
chain, then every listener's matchers with their argument injection) costs more than the
durable put itself: measured by bench/bench_events.py. The decisions are the listeners' own
(bot/work/event_work.py), so both paths put the same items, as tests/bot/test_hot_events.py
checks on generated payloads. Everything else goes to Bolt: other payloads, a payload of a
shape Slack never sends (Bolt's path answers it 400), and every event before Bolt has
authorized once (auth.test on a cold start), since the hot path needs the bot's ids.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from slack_bolt.authorization import AuthorizeResult
from slack_bolt.response import BoltResponse

from bot.services import Services
from bot.transports.shapes import is_malformed
from bot.work.event_work import hot_work, is_hot
from bot.work.intake import put_work, retry_later


class HotEvents:
    """Answer a hot event once its work is kept, or return None to let Bolt dispatch it.

    ``authorized`` returns what Bolt's authorization found (None until it first ran); Bolt
    caches one auth.test for the bot token, so the hot path reuses it.
    """

    def __init__(
        self, services: Services, *, authorized: Callable[[], AuthorizeResult | None]
    ) -> None:
        self._services = services
        self._authorized = authorized

    async def __call__(self, body: Mapping[str, Any]) -> BoltResponse | None:
        """Return Slack's answer for ``body`` (verified, parsed by parse_json), or None for Bolt."""
        auth = self._authorized()
        if auth is None or not is_hot(body) or is_malformed(body, depth_checked=True):
            return None
        bot_user_id = auth.bot_user_id or ""
        work = hot_work(body, bot_user_id=bot_user_id, bot_id=auth.bot_id or "")
        if work is not None and not await put_work(
            self._services, work, body, bot_user_id=bot_user_id
        ):
            return retry_later()
        return BoltResponse(status=200, body="")
