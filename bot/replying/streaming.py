"""Stream one reply into its thread as the model writes it (``GENERATOR_CANDIDATES=1``).

Slack's streaming methods (https://docs.slack.dev/reference/methods/chat.startStream,
``chat.appendStream``, ``chat.stopStream``; bot scope ``chat:write``, Tier 4 for appends):

- a stream is a reply in a thread, and in a channel it names its reader:
  ``recipient_team_id`` and ``recipient_user_id`` (else ``missing_recipient_*``);
- each call carries at most 12,000 characters of ``markdown_text``;
- only ``chat.stopStream`` takes ``blocks`` (shown below the text) and ``metadata``, so the
  finished message carries the same metadata as a posted reply (:mod:`bot.replying.posts`) and
  a retried work item finds it; a stream that was never stopped has none;
- a stopped stream takes nothing more (``message_not_in_streaming_state``), and Slack ends a
  stream by itself some minutes after it started, so ours end well before (``LIFETIME``).

Pieces are gathered for ``FLUSH_SECONDS`` between appends, to stay far below the rate limit. A
reply that breaks off after some of it was shown (the model stopped, a timeout, Slack refused an
append, the worker stopping) is ended at once with a short note, never left streaming.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.replying.hourglass import show_progress
from bot.replying.posts import PostUncertain, find_message
from bot.transports.slack_client import SLACK_ERRORS
from tuning.errors import ModelError, SarcasmError

log = logging.getLogger(__name__)

# What the streaming methods need of the app (manifest.yml lists it; tests/bot/test_deployment).
STREAM_SCOPES = frozenset({"chat:write"})
FLUSH_SECONDS = 0.25
MAX_MARKDOWN = 12_000
LIFETIME_SECONDS = 240.0
BROKE_OFF = "\n\n_…and there my wit ran out. Mention me again for the rest._"
STOPPED = "\n\n_…interrupted. Mention me again for the rest._"


class NothingStreamed(SarcasmError):
    """The reply failed before any of it was shown: the thread holds nothing of it."""


@dataclass(frozen=True)
class Target:
    """Where a reply streams: the thread, its reader, and the message the hourglass marks."""

    channel: str
    thread_ts: str
    team: str
    user: str
    progress_ts: str


@dataclass(frozen=True)
class Streamed:
    """A streamed reply: its message, the text shown, and whether it was finished whole."""

    ts: str
    text: str
    complete: bool


async def find_streamed(
    client: AsyncWebClient, target: Target, *, metadata: dict[str, Any]
) -> Streamed | None:
    """Return the finished reply with ``metadata`` already in the thread, or None.

    Raise PostUncertain when the thread cannot be read: whether it is there is unknown.
    """
    try:
        found = await find_message(
            client, channel=target.channel, thread_ts=target.thread_ts, metadata=metadata
        )
    except SLACK_ERRORS as exc:
        raise PostUncertain("could not tell whether the reply was streamed") from exc
    if found is None:
        return None
    return Streamed(ts=str(found["ts"]), text=str(found.get("text", "")), complete=True)


async def stream_reply(
    client: AsyncWebClient,
    pieces: AsyncGenerator[str, None],
    target: Target,
    *,
    metadata: dict[str, Any],
    blocks: list[dict[str, Any]],
    piece_seconds: float,
    clock: Callable[[], float] = time.monotonic,
) -> Streamed:
    """Stream ``pieces`` into the thread, finishing with ``blocks`` and ``metadata``.

    Raise NothingStreamed when the model failed before its first piece, and Slack's error when
    the stream could not start; PostUncertain when its stop may or may not have been applied.
    """
    try:
        first = await _first(client, pieces, target, piece_seconds)
        started = await client.chat_startStream(
            channel=target.channel,
            thread_ts=target.thread_ts,
            markdown_text=first[:MAX_MARKDOWN],
            recipient_team_id=target.team,
            recipient_user_id=target.user,
        )
        stream = _Stream(client, channel=target.channel, ts=str(started["ts"]), clock=clock)
        stream.shown = first
        return await stream.run(pieces, piece_seconds, metadata=metadata, blocks=blocks)
    finally:
        await pieces.aclose()  # a reply cut short closes its connection to the model now


async def _first(
    client: AsyncWebClient, pieces: AsyncGenerator[str, None], target: Target, seconds: float
) -> str:
    """Return the reply's first piece, with the hourglass up while the model thinks."""
    try:
        async with show_progress(client, channel=target.channel, ts=target.progress_ts):
            first = await _next(pieces, seconds)
    except (ModelError, TimeoutError) as exc:
        raise NothingStreamed("the model failed before its first word") from exc
    if not first:
        raise NothingStreamed("the model wrote nothing")
    return first


class _Stream:
    """One started stream: what was shown, what waits to be appended, and how it ends."""

    def __init__(
        self, client: AsyncWebClient, *, channel: str, ts: str, clock: Callable[[], float]
    ) -> None:
        self._client, self.channel, self.ts = client, channel, ts
        self.shown, self.waiting = "", ""
        self._clock = clock
        self._flushed = self._deadline = clock()
        self._deadline += LIFETIME_SECONDS

    async def run(
        self,
        pieces: AsyncGenerator[str, None],
        piece_seconds: float,
        *,
        metadata: dict[str, Any],
        blocks: list[dict[str, Any]],
    ) -> Streamed:
        try:
            while (piece := await _next(pieces, piece_seconds)) is not None:
                self.waiting += piece
                self._check_lifetime()
                if self._clock() - self._flushed >= FLUSH_SECONDS:
                    await self._append()
        except (ModelError, TimeoutError) as exc:
            log.warning("the streamed reply broke off (%s)", type(exc).__name__)
            return await self._end(self.waiting + BROKE_OFF)
        except SLACK_ERRORS as exc:  # an append failed: whether it was applied is unknown
            log.warning("appending to the streamed reply failed (%s)", type(exc).__name__)
            return await self._end(BROKE_OFF)
        except asyncio.CancelledError:  # the worker is stopping: end the stream, then stop
            await asyncio.shield(self._end(STOPPED))
            raise
        return await self._stop(metadata=metadata, blocks=blocks)

    def _check_lifetime(self) -> None:
        """Raise TimeoutError once the reply has outlived what a Slack stream allows."""
        if self._clock() > self._deadline:
            raise TimeoutError("the reply outlived a Slack stream")

    async def _append(self) -> None:
        text, self.waiting = self.waiting[:MAX_MARKDOWN], self.waiting[MAX_MARKDOWN:]
        try:
            await self._client.chat_appendStream(
                channel=self.channel, ts=self.ts, markdown_text=text
            )
        except SlackApiError as exc:
            if exc.response.status_code != 429:
                raise
            self.waiting = text + self.waiting  # not applied: it goes with the next call
            return
        self.shown += text
        self._flushed = self._clock()

    async def _stop(self, *, metadata: dict[str, Any], blocks: list[dict[str, Any]]) -> Streamed:
        while len(self.waiting) > MAX_MARKDOWN:
            await self._append()
        try:
            await self._client.chat_stopStream(
                channel=self.channel,
                ts=self.ts,
                markdown_text=self.waiting or None,
                blocks=blocks or None,
                metadata=metadata,
            )
        except SLACK_ERRORS as exc:
            if isinstance(exc, SlackApiError) and exc.response.status_code < 500:
                log.warning("stopping the streamed reply was refused (%s)", exc.response["error"])
                return Streamed(self.ts, self.shown, complete=False)
            raise PostUncertain("could not tell whether the stream was stopped") from exc
        return Streamed(self.ts, self.shown + self.waiting, complete=True)

    async def _end(self, note: str) -> Streamed:
        """Stop the stream with ``note`` and no metadata; never raise (it is already failing)."""
        with contextlib.suppress(*SLACK_ERRORS):
            await self._client.chat_stopStream(
                channel=self.channel, ts=self.ts, markdown_text=note[-MAX_MARKDOWN:]
            )
        return Streamed(self.ts, self.shown, complete=False)


async def _next(pieces: AsyncGenerator[str, None], seconds: float) -> str | None:
    """Return the next piece, or None when the reply is finished; a silent model times out."""
    try:
        async with asyncio.timeout(seconds):
            return await anext(pieces)
    except StopAsyncIteration:
        return None
