"""Post a bot message at most once, whatever the network does: metadata names each post.

A post whose answer was lost (a reset, a 5xx, a timeout) may still have been applied by Slack;
posting again would show the reply twice. Each post carries message metadata naming it
(https://docs.slack.dev/messaging/message-metadata/), and after an uncertain failure the
thread is searched for it (``conversations.replies`` with ``include_all_metadata``) before
another try.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.transports.slack_client import SERVER_ERROR_RETRIES
from tuning.errors import SarcasmError

log = logging.getLogger(__name__)

REPLY_EVENT_TYPE = "sarcasm_bot_reply"


class PostUncertain(SarcasmError):
    """A post failed and the thread could not be read: whether Slack has it is unknown.

    Neither posting again nor apologising is safe; the work item is retried later (it then
    looks in the thread first).
    """


# conversations.replies pages hold up to 1,000 messages; a bot thread is far shorter.
THREAD_PAGE = 200


def post_metadata(interaction_id: str, *, part: str = "0") -> dict[str, Any]:
    """Return the metadata of one post: the interaction it belongs to and which part it is."""
    return {
        "event_type": REPLY_EVENT_TYPE,
        "event_payload": {"interaction_id": interaction_id, "part": part},
    }


async def post_once(
    client: AsyncWebClient,
    *,
    channel: str,
    thread_ts: str,
    metadata: dict[str, Any],
    look_first: bool = False,
    **fields: Any,
) -> str:
    """Post in ``thread_ts`` unless a post with ``metadata`` is there already; return its ts.

    ``look_first`` searches the thread before the first try too (a retried work item: its
    earlier attempt may have posted before it died).
    """
    if look_first:
        found = await find_post(client, channel=channel, thread_ts=thread_ts, metadata=metadata)
        if found is not None:
            return found
    failure: Exception | None = None
    for _ in range(1 + SERVER_ERROR_RETRIES):
        try:
            response = await client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, metadata=metadata, **fields
            )
            return str(response["ts"])
        except (aiohttp.ClientError, TimeoutError, SlackApiError) as exc:
            if not is_uncertain(exc):
                raise
            failure = exc
        try:
            found = await find_post(client, channel=channel, thread_ts=thread_ts, metadata=metadata)
        except (aiohttp.ClientError, TimeoutError, SlackApiError) as exc:
            raise PostUncertain("could not tell whether a post was applied") from exc
        if found is not None:
            log.info("an earlier post was applied; not posting again", extra={"channel": channel})
            return found
    assert failure is not None
    raise failure


async def find_post(
    client: AsyncWebClient, *, channel: str, thread_ts: str, metadata: dict[str, Any]
) -> str | None:
    """Return the ts of this app's post with ``metadata`` in the thread, or None."""
    found = await find_message(client, channel=channel, thread_ts=thread_ts, metadata=metadata)
    return None if found is None else str(found["ts"])


async def find_message(
    client: AsyncWebClient, *, channel: str, thread_ts: str, metadata: dict[str, Any]
) -> dict[str, Any] | None:
    """Return this app's message with ``metadata`` in the thread, or None."""
    response = await client.conversations_replies(
        channel=channel, ts=thread_ts, include_all_metadata=True, limit=THREAD_PAGE
    )
    for message in response.get("messages") or []:
        if message.get("metadata") == metadata and message.get("bot_id"):
            return dict(message)
    return None


def is_uncertain(exc: Exception) -> bool:
    """Return whether Slack may have applied the failed call (retrying may be worth it)."""
    # Slack may have applied the call: a dropped connection, a timeout, or a server error.
    if isinstance(exc, SlackApiError):
        return bool(exc.response.status_code >= 500)
    return True
