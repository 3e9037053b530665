"""When to retrain: a policy per task and method, and ``tick`` which launches what is due.

Each task/method policy is judged on its own jobs. A job is due when enough new feedback
arrived since the last successful job of its kind, or when its last dataset is older than
``max_dataset_age`` and there is any new feedback, but never within ``cooldown`` of the last job
of its kind that a backend launched (one that got past the dataset export, whether it then
succeeded or failed). A job refused before launch (its dataset too small, say) costs nothing and
does not cool down; the policy is due again only once feedback has arrived since, as the same
data would be refused again.

``tick`` first follows up unfinished jobs, then launches at most one job: of the due policies,
the one whose last launch is oldest (never launched first; ties in policy order), so a policy
that is always due (generator SFT) cannot keep another (preference) waiting. It holds the store
lease ``lease:tick`` while it decides, so two ticks at once (cron overlap, two replicas) launch
at most one job.

Reinforcement tuning has its own gate: a policy with ``min_reward_auc`` is due only while the
reward model's held-out agreement with human ratings (ROC AUC) reaches that floor, because RL
against a bad reward model teaches the policy to game it. Its policy is off unless
SCHEDULE_REINFORCEMENT=true (:func:`policies_for`).

Given the privacy service, each tick also applies retention (records older than RETENTION_DAYS,
and the datasets and models built on them) and retries deletions that failed before, under the
same lease; a privacy failure is reported in ``errors`` and never stops the tuning decision.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tuning.config import Settings
from tuning.errors import ConflictError, SarcasmError
from tuning.lifecycle.service import TuningService
from tuning.privacy.erase import PrivacyService
from tuning.privacy.reports import Cleanup, RetentionReport
from tuning.records import GENERATOR_ONLY, JobRecord, Kind, Method, Task
from tuning.store.base import Store

log = logging.getLogger(__name__)
LEASE = "lease:tick"
AucFn = Callable[[], Awaitable[float]]  # the reward model's held-out AUC now (NaN: unknown)
NEVER = datetime.min.replace(tzinfo=UTC)  # the last launch of a policy that never launched


@dataclass(frozen=True)
class Policy:
    """When to retrain one task with one method."""

    task: Task
    method: Method
    min_new_feedback: int = 50  # unretracted feedback on this task's interactions since then
    cooldown: timedelta = timedelta(hours=6)  # after a launched job, successful or not
    max_dataset_age: timedelta = timedelta(days=7)  # retrain on any new feedback after this
    backend: str | None = None  # None: the configured MODEL_BACKEND
    enabled: bool = True
    min_reward_auc: float | None = None  # due only while the reward model's AUC reaches this

    def __post_init__(self) -> None:
        if self.min_new_feedback < 1:
            raise ValueError("min_new_feedback must be at least 1")
        if self.cooldown < timedelta(0) or self.max_dataset_age <= timedelta(0):
            raise ValueError("cooldown must be >= 0 and max_dataset_age > 0")
        if self.method in GENERATOR_ONLY and self.task != "generator":
            raise ValueError(f"{self.method} tuning applies to the generator only")


DEFAULT_POLICIES: tuple[Policy, ...] = (
    Policy("classifier", "sft"),
    Policy("generator", "sft"),
    Policy("generator", "preference", min_new_feedback=30),
)


def reinforcement_policy(*, enabled: bool, min_reward_auc: float) -> Policy:
    """Return the reinforcement policy: Vertex only, gated on the reward model's AUC."""
    return Policy(
        "generator",
        "reinforcement",
        min_new_feedback=100,
        cooldown=timedelta(days=1),
        backend="vertex",
        enabled=enabled,
        min_reward_auc=min_reward_auc,
    )


def policies_for(settings: Settings) -> tuple[Policy, ...]:
    """Return the default policies plus reinforcement (off unless SCHEDULE_REINFORCEMENT)."""
    return (
        *DEFAULT_POLICIES,
        reinforcement_policy(
            enabled=settings.schedule_reinforcement,
            min_reward_auc=settings.reinforcement_min_auc,
        ),
    )


@dataclass(frozen=True)
class Verdict:
    """Whether a policy is due now, and why."""

    policy: Policy
    due: bool
    reason: str
    new_feedback: int = 0
    last_launched_at: datetime | None = None  # the policy's last job a backend launched


@dataclass(frozen=True)
class TickResult:
    """What one tick did: the job it launched (if any), each verdict, the jobs it followed up."""

    launched: JobRecord | None = None
    verdicts: tuple[Verdict, ...] = ()
    followed: tuple[JobRecord, ...] = ()
    note: str = ""
    errors: tuple[str, ...] = field(default_factory=tuple)
    retention: RetentionReport | None = None  # what retention expired (with a privacy service)
    retried: Cleanup | None = None  # what earlier deletions the retry finished or left pending


def launched(job: JobRecord) -> bool:
    """Return whether a backend launched ``job`` (it got past the dataset export)."""
    return job.remote_name is not None


def is_due(
    policy: Policy,
    *,
    new_feedback: int,
    last_attempt: JobRecord | None,
    last_success: JobRecord | None,
    now: datetime,
    reward_auc: float | None = None,
    last_launched: JobRecord | None = None,
    new_since_attempt: int | None = None,
) -> Verdict:
    """Return whether ``policy`` is due, given the feedback counts and its last jobs (pure).

    ``last_attempt`` is the policy's newest job, ``last_launched`` its newest launched one (if
    not ``last_attempt``); ``new_since_attempt`` counts the feedback since ``last_attempt``.
    ``reward_auc`` is the reward model's held-out AUC, read only by a policy with a floor.
    """
    jobs = [j for j in (last_attempt, last_launched) if j is not None and launched(j)]
    since = max(jobs, key=lambda j: j.created_at) if jobs else None
    at = since.created_at if since else None

    def verdict(due: bool, reason: str) -> Verdict:
        return Verdict(policy, due, reason, new_feedback, at)

    if not policy.enabled:
        return verdict(False, "disabled")
    gate = _reward_gate(policy, reward_auc)
    if gate:
        return verdict(False, gate)
    if since is not None and now - since.created_at < policy.cooldown:
        return verdict(
            False, f"cooling down until {since.created_at + policy.cooldown:%Y-%m-%d %H:%M} UTC"
        )
    refused = last_attempt if last_attempt and last_attempt.ended else None
    if refused is not None and not launched(refused) and new_since_attempt == 0:
        why = (refused.error or "refused").split(":")[0]
        return verdict(
            False,
            f"refused at {refused.created_at:%Y-%m-%d %H:%M} UTC ({why}); no new feedback since",
        )
    if new_feedback >= policy.min_new_feedback:
        return verdict(True, f"{new_feedback} new feedback (min {policy.min_new_feedback})")
    if (
        last_success is not None
        and new_feedback
        and now - last_success.created_at >= policy.max_dataset_age
    ):
        return verdict(True, f"dataset older than {policy.max_dataset_age.days} days")
    return verdict(False, f"{new_feedback} new feedback, needs {policy.min_new_feedback}")


async def tick(
    service: TuningService,
    store: Store,
    policies: Sequence[Policy] = DEFAULT_POLICIES,
    *,
    holder: str,
    now: datetime | None = None,
    lease_ttl: timedelta = timedelta(minutes=5),
    follow: bool = False,
    reward_auc: AucFn | None = None,
    privacy: PrivacyService | None = None,
) -> TickResult:
    """Apply retention, follow up unfinished jobs, then launch the first due policy's job.

    ``reward_auc`` is asked (once) only when an enabled policy has a ``min_reward_auc``.
    """
    if not await store.claim(LEASE, ttl=lease_ttl, holder=holder):
        return TickResult(note="another tick holds the lease; nothing done")
    try:
        kept = await _privacy(privacy, now or store.clock())
        result = await _tick(
            service, store, policies, now=now, follow=follow, reward_auc=reward_auc
        )
        return dataclasses.replace(
            result,
            retention=kept.retention,
            retried=kept.retried,
            errors=(*kept.errors, *result.errors),
        )
    finally:
        await store.release(LEASE, holder=holder)


async def _privacy(privacy: PrivacyService | None, now: datetime) -> TickResult:
    """Run retention and the retry of pending deletions; a failure becomes an error line."""
    if privacy is None:
        return TickResult()
    try:
        retention = await privacy.retain(now)
        retried = await privacy.retry_pending()
    except SarcasmError as exc:
        log.warning("retention failed; the next tick tries again", exc_info=True)
        return TickResult(errors=(f"retention: {exc}",))
    lines = [f"pending: {p.location}: {p.reason}" for p in retried.pending]
    return TickResult(retention=retention, retried=retried, errors=tuple(lines))


async def _tick(
    service: TuningService,
    store: Store,
    policies: Sequence[Policy],
    *,
    now: datetime | None,
    follow: bool,
    reward_auc: AucFn | None,
) -> TickResult:
    """Follow up unfinished jobs, then launch the first due policy's job (at most one)."""
    followed = tuple(await service.resume(follow=follow))
    running = await store.running_jobs()
    if running:
        job = running[0]
        return TickResult(followed=followed, note=f"job {job.id} is {job.state}; waiting for it")
    verdicts = await _verdicts(store, policies, now or store.clock(), reward_auc)
    for verdict in _turns(verdicts):
        try:
            job = await service.launch(
                task=verdict.policy.task,
                method=verdict.policy.method,
                backend=verdict.policy.backend,
                notify={"reason": f"scheduled: {verdict.reason}"},
            )
        except ConflictError as exc:
            return TickResult(verdicts=verdicts, followed=followed, note=str(exc))
        return TickResult(launched=job, verdicts=verdicts, followed=followed)
    return TickResult(verdicts=verdicts, followed=followed, note="nothing is due")


async def run_periodically(
    service: TuningService,
    store: Store,
    *,
    every: timedelta,
    holder: str,
    policies: Sequence[Policy] = DEFAULT_POLICIES,
    privacy: PrivacyService | None = None,
) -> None:
    """Tick ``every`` so often until cancelled: the bot's in-process scheduler (TICK_MINUTES).

    Wire it as ``run_periodically(service, store, every=timedelta(minutes=settings.tick_minutes),
    holder=..., privacy=build_privacy_service(settings, store))`` when ``tick_minutes`` is
    above 0.
    """
    while True:
        await asyncio.sleep(every.total_seconds())
        try:
            result = await tick(
                service, store, policies, holder=holder, follow=True, privacy=privacy
            )
        except SarcasmError:
            log.warning("scheduled tick failed; will try again", exc_info=True)
            continue
        if result.launched is not None:
            log.info("scheduled tick launched job %s", result.launched.id)


def _reward_gate(policy: Policy, reward_auc: float | None) -> str:
    """Return why a policy with a reward-AUC floor is not due, or "" when it may be."""
    floor = policy.min_reward_auc
    if floor is None:
        return ""
    if reward_auc is None or math.isnan(reward_auc):
        return "the reward model's held-out AUC is unknown"
    if reward_auc < floor:
        return f"reward model AUC {reward_auc:.3f} is below {floor:.3f}"
    return ""


def _turns(verdicts: Sequence[Verdict]) -> list[Verdict]:
    """Return the due verdicts, the one whose policy launched longest ago (or never) first."""
    due = [v for v in verdicts if v.due]
    return sorted(due, key=lambda v: v.last_launched_at or NEVER)


async def _verdicts(
    store: Store, policies: Sequence[Policy], now: datetime, reward_auc: AucFn | None
) -> tuple[Verdict, ...]:
    jobs = await store.list_jobs(limit=100)
    gated = any(p.enabled and p.min_reward_auc is not None for p in policies)
    auc = await reward_auc() if gated and reward_auc is not None else None
    verdicts = []
    for policy in policies:
        mine = [j for j in jobs if j.task == policy.task and j.method == policy.method]
        last_attempt = mine[0] if mine else None
        last_success = next((j for j in mine if j.state == "SUCCEEDED"), None)
        kind: Kind = "classify" if policy.task == "classifier" else "generate"
        since = last_success.created_at if last_success else None
        # Counted by the store (an aggregation query on Firestore): no tick reads every id.
        new = await store.count_feedback(since=since, kind=kind)
        since_attempt = None
        if last_attempt is not None and last_attempt.ended and not launched(last_attempt):
            since_attempt = await store.count_feedback(since=last_attempt.created_at, kind=kind)
        verdicts.append(
            is_due(
                policy,
                new_feedback=new,
                last_attempt=last_attempt,
                last_success=last_success,
                now=now,
                reward_auc=auc,
                last_launched=next((j for j in mine if launched(j)), None),
                new_since_attempt=since_attempt,
            )
        )
    return tuple(verdicts)
