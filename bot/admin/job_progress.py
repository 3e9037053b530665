"""Tell whoever launched a tuning job how it is going, from whichever process sees the change.

``JobRecord.notify`` says where: a thread (``channel`` + ``thread_ts``), else ``response_url``
while Slack still honours it (30 minutes, 5 uses: we post at most 4 stages), else a direct
message to ``user``. Each stage is claimed in the store, so one process posts it exactly once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.transports.slack_client import SLACK_ERRORS
from bot.views.job_progress import STAGES, build_progress_text, stage_of
from tuning.records import JobRecord, utcnow
from tuning.store.base import Store

log = logging.getLogger(__name__)

RESPONSE_URL_LIFETIME = timedelta(minutes=30)
# Keep the claim long enough that a slow second process cannot post the stage again.
CLAIM_TTL = timedelta(days=30)


def response_url_notify(*, user: str, channel: str, response_url: str) -> dict[str, Any]:
    """Return a notify mapping that reports through a slash command's response_url."""
    expires = utcnow() + RESPONSE_URL_LIFETIME - timedelta(minutes=1)
    return {
        "user": user,
        "channel": channel,
        "response_url": response_url,
        "response_url_expires": expires.isoformat(),
    }


class ProgressReporter:
    """Post each progress stage of a job once, in order, to the place its record names."""

    def __init__(
        self, *, store: Store, make_client: Callable[[], AsyncWebClient], instance: str = ""
    ) -> None:
        self._store = store
        self._make_client = make_client
        self._instance = instance
        self._posted: dict[str, int] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def on_change(self, job: JobRecord) -> None:
        """Report a job's new state if it starts a stage nobody has reported yet; never raise."""
        try:
            await self._report(job)
        except Exception:  # a report, whatever breaks it, must not fail the job
            # A failed report must never fail the job that triggered it.
            log.exception("progress report failed", extra={"job_id": job.id})

    async def _report(self, job: JobRecord) -> None:
        if not job.notify:
            return
        stage = STAGES.index(stage_of(job))
        # TuningService emits EVALUATING twice: on entry, then with the metrics. Report the latter.
        if STAGES[stage] == "evaluating" and not job.metrics:
            return
        lock = self._locks.setdefault(job.id, asyncio.Lock())
        async with lock:
            # In order: a stage older than one already posted here is skipped, never posted late.
            if stage <= self._posted.get(job.id, -1):
                return
            claimed = await self._store.claim(
                f"progress:{job.id}:{STAGES[stage]}", ttl=CLAIM_TTL, holder=self._instance
            )
            self._posted[job.id] = stage
            if claimed:
                await deliver(self._make_client(), job.notify, build_progress_text(job))
        if job.ended:
            self._locks.pop(job.id, None)


async def deliver(client: AsyncWebClient, notify: Mapping[str, Any], text: str) -> str:
    """Post ``text`` to the thread, the response_url or the user; return which one worked."""
    if await _to_thread(client, notify, text):
        return "thread"
    if await _to_response_url(notify, text):
        return "response_url"
    if await _to_user(client, notify, text):
        return "dm"
    log.error("job progress could not be delivered", extra={"notify_keys": sorted(notify)})
    return "none"


async def _to_thread(client: AsyncWebClient, notify: Mapping[str, Any], text: str) -> bool:
    channel, thread_ts = notify.get("channel"), notify.get("thread_ts")
    if not (channel and thread_ts):
        return False
    try:
        await client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text)
    except SLACK_ERRORS as error:
        log.warning("thread post failed", extra={"error": str(error)})
        return False
    return True


async def _to_response_url(notify: Mapping[str, Any], text: str) -> bool:
    url = notify.get("response_url")
    if not (url and _still_valid(notify.get("response_url_expires"))):
        return False
    try:
        response = await AsyncWebhookClient(url).send(
            text=text, response_type="ephemeral", replace_original=False
        )
    except SLACK_ERRORS as error:
        log.warning("response_url post failed", extra={"error": str(error)})
        return False
    if response.status_code != 200:
        log.warning("response_url refused", extra={"status": response.status_code})
        return False
    return True


async def _to_user(client: AsyncWebClient, notify: Mapping[str, Any], text: str) -> bool:
    user = notify.get("user")
    if not user:
        return False
    try:
        await client.chat_postMessage(channel=user, text=text)
    except SLACK_ERRORS as error:
        log.warning("direct message failed", extra={"error": str(error)})
        return False
    return True


def _still_valid(expires: object) -> bool:
    if not isinstance(expires, str):
        return False
    try:
        return utcnow() < datetime.fromisoformat(expires)
    except ValueError:
        return False
