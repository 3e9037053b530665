"""Record a job's life in the store: every change saved with its time, then reported.

Each transition appends a :class:`StateChange` and calls the ``on_change`` hook the service
holds at that moment, so a hook set later (the admin's Slack reporter) still sees every change.
A broken hook is logged and never breaks the job.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from tuning.errors import NotFoundError
from tuning.records import JobRecord, JobState, StateChange
from tuning.store.base import Store

log = logging.getLogger("tuning.lifecycle.service")
OnChange = Callable[[JobRecord], Awaitable[None]]


class JobLog:
    """Read, save and transition job records, reporting each change."""

    def __init__(self, store: Store, hook: Callable[[], OnChange | None]) -> None:
        self._store = store
        self._hook = hook

    async def get(self, job_id: str) -> JobRecord:
        """Return the stored job; raise NotFoundError if there is none."""
        job = await self._store.get_job(job_id)
        if job is None:
            raise NotFoundError(f"no tuning job {job_id}")
        return job

    async def save(self, job: JobRecord, **changes: Any) -> JobRecord:
        """Save ``job`` with ``changes`` and a fresh ``updated_at``; return the saved record."""
        job = replace(job, **changes, updated_at=self._store.clock())
        await self._store.save_job(job)
        return job

    async def transition(self, job: JobRecord, state: JobState, **changes: Any) -> JobRecord:
        """Move ``job`` to ``state`` (recorded in its history), save it and report it."""
        if state in ("FAILED", "CANCELLED", "EXPIRED"):
            changes.setdefault("outcome", "failed")
        history = (*job.history, StateChange(state, self._store.clock()))
        job = await self.save(job, state=state, history=history, **changes)
        log.info("job %s is %s", job.id, state)
        await self.emit(job)
        return job

    async def fail(self, job: JobRecord, error: str, **changes: Any) -> JobRecord:
        """Mark the job FAILED with ``error`` unless it has already ended; return it."""
        current = await self._store.get_job(job.id) or job
        if current.ended:
            return current
        return await self.transition(current, "FAILED", error=error, **changes)

    async def emit(self, job: JobRecord) -> None:
        """Call the current on_change hook, if any, swallowing (and logging) its errors."""
        hook = self._hook()
        if hook is None:
            return
        try:
            await hook(job)
        except Exception:  # a broken notifier must not break the job
            log.exception("on_change hook failed for job %s", job.id)
