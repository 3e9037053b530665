"""Gather what `status` and the App Home show from the store, in one frozen snapshot."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tuning.privacy.locations import split_pending
from tuning.records import (
    TASKS,
    ChannelSettings,
    JobRecord,
    Manifest,
    ModelVersion,
    Task,
    model_key,
    utcnow,
)
from tuning.reporting.reports import Report, collect_report
from tuning.store.base import Store

# App Home lists channels the bot acted in recently; older channels are left off to keep it fast.
CHANNEL_LOOKBACK = timedelta(days=7)
MAX_CHANNELS = 10


@dataclass(frozen=True)
class Dashboard:
    """Active models, candidates, jobs, recent feedback and visible channel settings."""

    active: Mapping[Task, ModelVersion | None]
    candidates: tuple[ModelVersion, ...] = ()
    running: tuple[JobRecord, ...] = ()
    recent_jobs: tuple[JobRecord, ...] = ()
    feedback_since_last_job: int = 0
    last_job_at: datetime | None = None
    week: Report = field(default_factory=lambda: Report(start=utcnow().date()))
    channels: tuple[ChannelSettings, ...] = ()
    # Model versions that learnt from forgotten or expired records and cannot be untrained
    # (Vertex and OpenAI tuned models; local ones are rebuilt): admins should retrain them.
    flagged: tuple[FlaggedModel, ...] = ()
    # Why each deletion forget-me or retention could not do yet is still pending (a GCS
    # permission error, say); every ``tick`` retries them.
    pending: tuple[str, ...] = ()


@dataclass(frozen=True)
class FlaggedModel:
    """A registered version whose manifest is affected, and whether it is the active one."""

    task: Task
    version: str
    backend: str
    affected: str
    active: bool


async def gather_dashboard(
    store: Store,
    *,
    user: str,
    is_admin: bool,
    jobs: int = 5,
    now: datetime | None = None,
) -> Dashboard:
    """Read a dashboard; members see settings only of channels where the bot answered them."""
    now = now or utcnow()
    active: dict[Task, ModelVersion | None] = {}
    candidates: list[ModelVersion] = []
    for task in TASKS:
        models = await store.list_models(task=task)
        active[task] = next((m for m in models if m.state == "active"), None)
        candidates.extend(m for m in models if m.state == "candidate")
    candidates.sort(key=lambda m: m.created_at, reverse=True)
    recent = await store.list_jobs(limit=max(jobs, 1))
    manifests = await store.list_manifests()  # once: flagged models and pending deletions
    last_job_at = recent[0].created_at if recent else None
    return Dashboard(
        active=active,
        candidates=tuple(candidates[:5]),
        running=tuple(await store.running_jobs()),
        recent_jobs=tuple(recent[:jobs]),
        feedback_since_last_job=await store.count_feedback(since=last_job_at),
        last_job_at=last_job_at,
        week=await collect_report(store, days=7, now=now),
        channels=tuple(await _visible_channels(store, user=user, is_admin=is_admin, now=now)),
        flagged=tuple(await flagged_models(store, manifests)),
        pending=tuple(pending_deletions(manifests)),
    )


def pending_deletions(manifests: Iterable[Manifest]) -> list[str]:
    """Return the reason of every deletion still pending, one per location (no text)."""
    reasons: list[str] = []
    for manifest in manifests:
        reasons.extend(split_pending(entry)[1] or "unknown reason" for entry in manifest.pending)
    return reasons


async def flagged_models(store: Store, manifests: Iterable[Manifest]) -> list[FlaggedModel]:
    """Return the tuned versions that hold forgotten or expired data and are still registered.

    Local models are rebuilt without the data, and their old files deleted; what is left are
    the remote ones, which cannot be untrained. Retired ones are listed too: they hold the
    data until an admin deletes them in the cloud console.
    """
    flagged: list[FlaggedModel] = []
    for manifest in manifests:
        key = model_key(manifest)
        if key is None or not manifest.affected:
            continue
        model = await store.get_model(task=key[0], version=key[1])
        if model is None or model.backend == "local":
            continue
        flagged.append(
            FlaggedModel(
                task=model.task,
                version=model.version,
                backend=model.backend,
                affected=manifest.affected,
                active=model.state == "active",
            )
        )
    return flagged


async def _visible_channels(
    store: Store, *, user: str, is_admin: bool, now: datetime
) -> list[ChannelSettings]:
    seen: list[str] = []
    async for interaction in store.iter_interactions(since=now - CHANNEL_LOOKBACK):
        if interaction.channel in seen or not (is_admin or interaction.user == user):
            continue
        # Direct-message conversations have no channel settings to show.
        if interaction.channel.startswith("D"):
            continue
        seen.append(interaction.channel)
        if len(seen) >= MAX_CHANNELS:
            break
    return [await store.channel_settings(channel=channel) for channel in seen]
