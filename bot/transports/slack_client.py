"""The one way to build a Slack Web API client: SLACK_API_URL, bounded retries, a timeout."""

from __future__ import annotations

from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.web.async_client import AsyncWebClient

from tuning.config import SlackSettings

# Bounded on purpose: a reply that needs more than a few attempts is better replaced by the
# friendly error line than delayed for minutes. 429s sleep for Slack's Retry-After each time.
RATE_LIMIT_RETRIES = 3
SERVER_ERROR_RETRIES = 2
CONNECTION_RETRIES = 2
REQUEST_TIMEOUT_SECONDS = 10
# What a failed Web API call raises once the retries are spent: Slack's refusal, a transport
# error (aiohttp wraps socket and TLS errors in ClientError), or the request timeout.
SLACK_ERRORS = (SlackApiError, aiohttp.ClientError, TimeoutError)
# The ones that mean Slack was not reached (refused, reset, timed out), not that it said no.
TRANSPORT_ERRORS = (aiohttp.ClientError, TimeoutError)


class _ServerErrors(AsyncServerErrorRetryHandler):
    """Retry 500/503, except for posts (and streams): bot.replying.posts looks first."""

    async def _can_retry_async(self, **kwargs: Any) -> bool:
        return not _is_post(kwargs["request"]) and await super()._can_retry_async(**kwargs)


class _ConnectionErrors(AsyncConnectionErrorRetryHandler):
    """Retry dropped connections, except for posts (the post may have been applied)."""

    async def _can_retry_async(self, **kwargs: Any) -> bool:
        return not _is_post(kwargs["request"]) and await super()._can_retry_async(**kwargs)


# Calls that add to a thread: sent again after an applied call whose answer was lost, they would
# show a reply (or a streamed piece of one) twice.
POSTING_METHODS = ("chat.postMessage", "chat.startStream", "chat.appendStream", "chat.stopStream")


def _is_post(request: HttpRequest) -> bool:
    return request.url.endswith(tuple(f"/{method}" for method in POSTING_METHODS))


def build_retry_handlers(
    backoff: float = 0.25, *, for_work: bool = False
) -> list[AsyncRetryHandler]:
    """Return retry handlers for 429 (Retry-After), 500/503 and dropped connections.

    ``for_work`` (the queue worker's client): a 429 is raised at once, so the worker hands the
    item back for Retry-After instead of sleeping in a slot other work needs; a chat.postMessage
    that failed uncertainly is not sent again blindly (bot/replying/posts.py looks first).
    """
    interval = BackoffRetryIntervalCalculator(backoff_factor=backoff)
    if for_work:
        return [
            _ServerErrors(max_retry_count=SERVER_ERROR_RETRIES, interval_calculator=interval),
            _ConnectionErrors(max_retry_count=CONNECTION_RETRIES, interval_calculator=interval),
        ]
    return [
        AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
        AsyncServerErrorRetryHandler(
            max_retry_count=SERVER_ERROR_RETRIES, interval_calculator=interval
        ),
        AsyncConnectionErrorRetryHandler(
            max_retry_count=CONNECTION_RETRIES, interval_calculator=interval
        ),
    ]


def retry_after(error: BaseException | None) -> float | None:
    """Return the Retry-After seconds of a rate-limited call's error (or its cause), else None."""
    while error is not None:
        if isinstance(error, SlackApiError) and error.response.status_code == 429:
            headers = error.response.headers or {}
            value = next((v for k, v in headers.items() if k.lower() == "retry-after"), "1")
            raw = value[0] if isinstance(value, list) else value
            try:
                return max(0.0, float(raw))
            except ValueError:
                return 1.0
        error = error.__cause__
    return None


def build_web_client(
    slack: SlackSettings,
    *,
    token: str | None = None,
    session: aiohttp.ClientSession | None = None,
    for_work: bool = False,
) -> AsyncWebClient:
    """Return an AsyncWebClient for the bot token (or ``token``) against SLACK_API_URL.

    Pass the process's shared ``session`` to reuse connections: without one, slack_sdk opens
    (and closes) a new connection pool for every call.
    """
    return AsyncWebClient(
        token=token if token is not None else (slack.bot_token or None),
        base_url=slack.api_url,
        timeout=REQUEST_TIMEOUT_SECONDS,
        retry_handlers=build_retry_handlers(for_work=for_work),
        session=session,
    )
