"""Generate a sarcastic reply, post it in the thread, and record the interaction."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from slack_sdk.web.async_client import AsyncWebClient

from bot.replying.hourglass import show_progress
from bot.replying.posts import PostUncertain, is_uncertain, post_metadata, post_once
from bot.replying.streaming import NothingStreamed, Target, find_streamed, stream_reply
from bot.services import Services
from bot.transports.slack_client import SLACK_ERRORS, retry_after
from bot.views.replies import (
    FRIENDLY_ERROR,
    build_reply_actions,
    build_reply_blocks,
    split_text,
)
from tuning.errors import SarcasmError
from tuning.queue.base import MAX_ATTEMPTS
from tuning.records import Candidate, Interaction
from tuning.redaction import redact

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prompt:
    """What to answer and where: ``text`` is the raw prompt, ``ts`` the message to mark.

    A *Try again* prompt links to the first reply (``parent_id``) and lists the replies already
    ``shown`` for it, so the next one is new. ``user`` asked (mentioned, pressed *Try again*);
    ``author`` wrote ``text`` ("" means ``user`` did).
    """

    team: str
    channel: str
    ts: str
    thread_ts: str
    user: str
    text: str
    parent_id: str | None = None
    shown: tuple[str, ...] = ()
    author: str = ""
    # The interaction id, fixed by the work item so a retried item finds its earlier post and
    # record; "" picks a fresh one. ``attempt`` counts the item's deliveries from 1.
    id: str = ""
    attempt: int = 1


async def answer(services: Services, client: AsyncWebClient, prompt: Prompt) -> str | None:
    """Reply to ``prompt`` in its thread; return the recorded interaction id, or None.

    On any failure the user gets one friendly line and the log gets the details.
    """
    post_id = prompt.id or uuid.uuid4().hex
    if prompt.id and await services.store.get_interaction(prompt.id) is not None:
        return prompt.id  # an earlier delivery of this work item finished it
    record = not await _anyone_opted_out(services, prompt)
    # One candidate, nothing to rerank: a generator that can stream writes into the thread live.
    streaming = services.settings.candidates == 1 and not prompt.shown
    pieces = services.models.stream(prompt.text) if streaming else None
    if pieces is not None:
        return await _answer_streamed(
            services, client, prompt, pieces, post_id=post_id, record=record
        )
    try:
        async with show_progress(client, channel=prompt.channel, ts=prompt.ts):
            candidates = await _candidates(services, prompt)
    except Exception:  # any model failure: one friendly line, the log the details
        log.exception("reply generation failed", extra={"channel": prompt.channel})
        await post_friendly_error(
            client, channel=prompt.channel, thread_ts=prompt.thread_ts, post_id=post_id
        )
        return None
    interaction_id = post_id if record else None
    try:
        reply_ts = await post_chunks(
            client,
            channel=prompt.channel,
            thread_ts=prompt.thread_ts,
            text=candidates[0].text,
            interaction_id=interaction_id,
            post_id=post_id,
            look_first=prompt.attempt > 1,
        )
    except PostUncertain:
        raise  # the work item is retried, and looks in the thread first
    except SLACK_ERRORS as exc:
        transient = retry_after(exc) is not None or is_uncertain(exc)
        if prompt.id and transient and prompt.attempt < MAX_ATTEMPTS:
            # Queued work: the worker hands it back (after Retry-After, or with backoff) and the
            # next attempt looks in the thread first; only the last attempt apologises.
            raise
        log.exception("posting the reply failed", extra={"channel": prompt.channel})
        await post_friendly_error(
            client, channel=prompt.channel, thread_ts=prompt.thread_ts, post_id=post_id
        )
        return None
    if interaction_id is None:
        return None
    return await _record(services, prompt, interaction_id, reply_ts, candidates)


async def _anyone_opted_out(services: Services, prompt: Prompt) -> bool:
    """Return whether the asker or the prompt's writer opted out: then nothing is stored."""
    people = {prompt.user, prompt.author or prompt.user} - {""}
    for person in people:
        if await services.store.is_opted_out(user=person):
            return True
    return False


async def _record(
    services: Services,
    prompt: Prompt,
    interaction_id: str,
    reply_ts: str,
    candidates: list[Candidate],
) -> str:
    interaction = Interaction(
        id=interaction_id,
        team=prompt.team,
        channel=prompt.channel,
        ts=reply_ts,
        kind="generate",
        input_text=redact(prompt.text),
        output=redact(candidates[0].text),
        model_version=services.models.versions.get("generator", ""),
        user=prompt.user,
        author=prompt.author or prompt.user,
        thread_ts=prompt.thread_ts,
        candidates=tuple(Candidate(redact(c.text), c.score) for c in candidates),
        parent_id=prompt.parent_id,
    )
    await services.store.add_interaction(interaction)
    log.info(
        "replied",
        extra={"channel": prompt.channel, "interaction": interaction_id, "n": len(candidates)},
    )
    return interaction_id


async def _answer_streamed(
    services: Services,
    client: AsyncWebClient,
    prompt: Prompt,
    pieces: AsyncGenerator[str, None],
    *,
    post_id: str,
    record: bool,
) -> str | None:
    """Stream the one reply (bot/replying/streaming.py) and record it once it is whole.

    A model that fails before its first word gets the friendly line, and queued work is tried
    again later (the line is not repeated); a reply that broke off was ended with a note.
    """
    interaction_id = post_id if record else None
    target = Target(prompt.channel, prompt.thread_ts, prompt.team, prompt.user, prompt.ts)
    metadata = post_metadata(post_id, part="0")
    try:
        found = (
            await find_streamed(client, target, metadata=metadata) if prompt.attempt > 1 else None
        )
        streamed = found or await stream_reply(
            client,
            pieces,
            target,
            metadata=metadata,
            blocks=build_reply_actions(interaction_id=interaction_id),
            piece_seconds=services.settings.openai.timeout_seconds,
        )
    except NothingStreamed:
        await pieces.aclose()
        log.exception("reply generation failed", extra={"channel": prompt.channel})
        await post_friendly_error(
            client,
            channel=prompt.channel,
            thread_ts=prompt.thread_ts,
            post_id=post_id,
            look_first=prompt.attempt > 1,
        )
        if prompt.id:
            raise  # queued work: the worker tries the item again; the reply is not lost
        return None
    except PostUncertain:
        raise
    except SLACK_ERRORS as exc:
        if prompt.id and retry_after(exc) is not None:
            raise
        log.exception("streaming the reply failed", extra={"channel": prompt.channel})
        await post_friendly_error(
            client, channel=prompt.channel, thread_ts=prompt.thread_ts, post_id=post_id
        )
        return None
    if not streamed.complete or interaction_id is None:
        return None
    candidates = [Candidate(streamed.text, 0.0)]
    return await _record(services, prompt, interaction_id, streamed.ts, candidates)


async def _candidates(services: Services, prompt: Prompt) -> list[Candidate]:
    """Return the best replies not shown yet; a fresh sample once every reply has been shown.

    Raise SarcasmError when the generator has nothing at all to say.
    """
    if prompt.shown:
        unseen = await services.models.retry(prompt.text, shown=prompt.shown)
        if unseen:
            return unseen
        log.info("every reply was shown; sampling afresh", extra={"channel": prompt.channel})
    candidates = await services.models.reply(prompt.text)
    if not candidates:
        raise SarcasmError("the generator returned no candidates")
    return candidates


async def post_chunks(
    client: AsyncWebClient,
    *,
    channel: str,
    thread_ts: str,
    text: str,
    interaction_id: str | None,
    post_id: str | None = None,
    look_first: bool = False,
) -> str:
    """Post ``text`` in Slack-sized messages, the button on the last; return the first ts.

    Each message carries metadata naming ``post_id`` (default: the interaction) and its part,
    so no part is posted twice (bot/replying/posts.py).
    """
    named = post_id or interaction_id or uuid.uuid4().hex
    chunks = split_text(text) or ["…"]
    first_ts = ""
    for index, chunk in enumerate(chunks):
        last = index == len(chunks) - 1
        ts = await post_once(
            client,
            channel=channel,
            thread_ts=thread_ts,
            metadata=post_metadata(named, part=str(index)),
            look_first=look_first,
            text=chunk,
            blocks=build_reply_blocks(chunk, interaction_id=interaction_id if last else None),
            unfurl_links=False,
        )
        first_ts = first_ts or ts
    return first_ts


async def post_friendly_error(
    client: AsyncWebClient,
    *,
    channel: str,
    thread_ts: str,
    post_id: str | None = None,
    look_first: bool = False,
) -> None:
    """Tell the user, in one line, that no reply is coming; never raise."""
    named = post_id or uuid.uuid4().hex
    try:
        await post_once(
            client,
            channel=channel,
            thread_ts=thread_ts,
            metadata=post_metadata(named, part="error"),
            look_first=look_first,
            text=FRIENDLY_ERROR,
        )
    except Exception:  # the last resort of a failed reply; it must not raise
        log.exception("could not post the error line either", extra={"channel": channel})
