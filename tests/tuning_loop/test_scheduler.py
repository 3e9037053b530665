"""Scheduler policy (table-driven) and the tick lease."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.clock import ManualClock
from tests.tuning_loop.factories import add_flags, add_replies
from tuning.backends.base import RemoteStatus, TuningBackend
from tuning.backends.local import LocalBackend
from tuning.config import Settings
from tuning.datasets.files import DatasetFiles
from tuning.lifecycle.scheduler import LEASE, Policy, is_due, run_periodically, tick
from tuning.lifecycle.service import TuningService
from tuning.records import JobRecord, JobState, ModelVersion
from tuning.store.sqlite.store import SqliteStore

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
POLICY = Policy(
    "classifier",
    "sft",
    min_new_feedback=50,
    cooldown=timedelta(hours=6),
    max_dataset_age=timedelta(days=7),
)


def job(hours_ago: float, state: JobState = "SUCCEEDED", *, launched: bool = True) -> JobRecord:
    return JobRecord(
        id="j",
        task="classifier",
        method="sft",
        backend="local",
        state=state,
        remote_name="local/j" if launched else None,
        error=None if launched else "classifier sft dataset too small: 3 training examples",
        created_at=NOW - timedelta(hours=hours_ago),
    )


@pytest.mark.parametrize(
    ("new", "attempt", "success", "due", "reason"),
    [
        (0, None, None, False, "0 new feedback, needs 50"),
        (50, None, None, True, "50 new feedback (min 50)"),
        (49, None, None, False, "needs 50"),
        (500, job(1), job(1), False, "cooling down until 2026-11-25 17:00"),
        (500, job(1, "FAILED"), job(30), False, "cooling down"),  # launched failures cool down
        # A job refused before launch (its dataset) costs nothing: no cooldown after it.
        (500, job(1, "FAILED", launched=False), job(30), True, "500 new feedback"),
        (60, job(7), job(7), True, "60 new feedback"),
        (3, job(24 * 8), job(24 * 8), True, "dataset older than 7 days"),
        (0, job(24 * 8), job(24 * 8), False, "0 new feedback"),  # old but nothing new
    ],
)
def test_is_due(
    new: int, attempt: JobRecord | None, success: JobRecord | None, due: bool, reason: str
) -> None:
    verdict = is_due(POLICY, new_feedback=new, last_attempt=attempt, last_success=success, now=NOW)
    assert verdict.due is due
    assert reason in verdict.reason


def test_a_refusal_waits_for_new_feedback_not_for_the_cooldown() -> None:
    refused = job(0.1, "FAILED", launched=False)
    args = {"new_feedback": 500, "last_attempt": refused, "last_success": None, "now": NOW}
    waiting = is_due(POLICY, **args, new_since_attempt=0)  # type: ignore[arg-type]
    assert not waiting.due
    assert "refused at 2026-11-25 11:54 UTC (classifier sft dataset too small)" in waiting.reason
    assert is_due(POLICY, **args, new_since_attempt=1).due  # type: ignore[arg-type]
    # A launched job before the refusal still cools the policy down.
    cooling = is_due(POLICY, **args, new_since_attempt=1, last_launched=job(2))  # type: ignore[arg-type]
    assert "cooling down until 2026-11-25 16:00" in cooling.reason


def test_disabled_policy_is_never_due() -> None:
    off = Policy("generator", "sft", enabled=False)
    assert not is_due(off, new_feedback=10**6, last_attempt=None, last_success=None, now=NOW).due


@pytest.mark.parametrize(
    "kwargs",
    [{"min_new_feedback": 0}, {"cooldown": timedelta(-1)}, {"max_dataset_age": timedelta(0)}],
)
def test_policy_validation(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="must be"):
        Policy("classifier", "sft", **kwargs)


async def test_two_ticks_at_once_launch_one_job(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    # Two "processes": two stores on the same file, two services.
    stores = [SqliteStore(tmp_path / "store.db"), SqliteStore(tmp_path / "store.db")]
    for store in stores:
        await store.open()
    await add_flags(stores[0], 60)
    services = [
        TuningService(s, settings, {"local": LocalBackend(settings=settings, store=s)})
        for s in stores
    ]
    policy = Policy("classifier", "sft", min_new_feedback=50)
    results = await asyncio.gather(
        *(
            tick(svc, s, [policy], holder=f"p{n}")
            for n, (svc, s) in enumerate(zip(services, stores, strict=True))
        )
    )
    launched = [r.launched for r in results if r.launched is not None]
    assert len(launched) == 1
    assert len(await stores[0].list_jobs()) == 1
    loser = next(r for r in results if r.launched is None)
    assert "lease" in loser.note or "one tuning job" in loser.note or "waiting" in loser.note
    for svc in services:
        await svc.wait(launched[0].id)
    # The lease is released after a tick: a third tick can take it.
    assert await stores[0].claim(LEASE, ttl=timedelta(seconds=5), holder="after")
    for svc, store in zip(services, stores, strict=True):
        await svc.close()
        await store.close()


async def test_run_periodically_launches_when_due(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    store = SqliteStore(tmp_path / "store.db")
    await store.open()
    await add_flags(store, 60)
    service = TuningService(
        store, settings, {"local": LocalBackend(settings=settings, store=store)}
    )
    loop = asyncio.create_task(
        run_periodically(
            service,
            store,
            every=timedelta(milliseconds=20),
            holder="bot",
            policies=[Policy("classifier", "sft", min_new_feedback=50)],
        )
    )
    for _ in range(200):
        jobs = await store.list_jobs()
        if jobs:
            break
        await asyncio.sleep(0.05)
    assert len(jobs) == 1
    assert (await service.wait(jobs[0].id)).state == "SUCCEEDED"
    loop.cancel()
    await service.close()
    await store.close()


class Refusing(TuningBackend):
    """A remote backend whose every job fails at once, as Vertex reports a quota error."""

    name = "remote"

    async def start(
        self, *, job: JobRecord, dataset: DatasetFiles, base: ModelVersion | None
    ) -> str:
        return f"projects/p/locations/l/tuningJobs/{job.id}"

    async def status(self, *, job: JobRecord) -> RemoteStatus:
        return RemoteStatus(state="FAILED", error="quota exceeded for tuning jobs")

    async def cancel(self, *, job: JobRecord) -> None:
        raise AssertionError("not cancelled in this test")


async def test_the_cooldown_runs_on_the_store_clock(tmp_path: Path) -> None:
    clock = ManualClock()
    store = SqliteStore(tmp_path / "store.db", clock=clock)
    await store.open()
    await add_flags(store, 60)
    service = TuningService(store, Settings(data_dir=tmp_path / "data"), {"remote": Refusing()})
    policy = Policy("classifier", "sft", cooldown=timedelta(hours=6), backend="remote")
    try:
        first = await tick(service, store, [policy], holder="cron")
        assert first.launched is not None
        assert first.launched.created_at == clock()
        assert (await service.wait(first.launched.id)).state == "FAILED"
        clock.advance(timedelta(hours=6) - timedelta(microseconds=1))
        cooling = await tick(service, store, [policy], holder="cron")
        assert cooling.launched is None
        assert "cooling down" in cooling.verdicts[0].reason
        clock.advance(timedelta(microseconds=1))
        second = await tick(service, store, [policy], holder="cron")
        assert second.launched is not None, second.verdicts
        assert (await service.wait(second.launched.id)).state == "FAILED"
    finally:
        await service.close()
        await store.close()


async def test_a_refused_job_does_not_cool_the_policy_down(tmp_path: Path) -> None:
    clock = ManualClock()
    store = SqliteStore(tmp_path / "store.db", clock=clock)
    await store.open()
    await add_replies(store, 3)  # 3 approved replies: far too few for a Vertex SFT dataset
    service = TuningService(store, Settings(data_dir=tmp_path / "data"), {"remote": Refusing()})
    policy = Policy("generator", "sft", min_new_feedback=1, backend="remote")
    try:
        first = await tick(service, store, [policy], holder="cron")
        assert first.launched is not None
        refused = await service.wait(first.launched.id)
        assert (refused.state, refused.remote_name) == ("FAILED", None)
        assert "dataset too small" in (refused.error or "")
        clock.advance(timedelta(minutes=1))
        same_data = await tick(service, store, [policy], holder="cron")
        assert same_data.launched is None
        assert "no new feedback since" in same_data.verdicts[0].reason
        clock.advance(timedelta(minutes=1))
        await store.add_feedback(interaction_id="g0a", user="U9", reaction="y", rating=1)
        retried = await tick(service, store, [policy], holder="cron")
        assert retried.launched is not None, retried.verdicts  # minutes later, not 6 hours
        assert (await service.wait(retried.launched.id)).remote_name is None
    finally:
        await service.close()
        await store.close()


async def test_a_policy_that_is_always_due_does_not_starve_the_next(tmp_path: Path) -> None:
    clock = ManualClock()
    store = SqliteStore(tmp_path / "store.db", clock=clock)
    await store.open()
    await add_flags(store, 60)
    service = TuningService(store, Settings(data_dir=tmp_path / "data"), {"remote": Refusing()})
    policies = [
        Policy("classifier", "sft", min_new_feedback=50, cooldown=timedelta(0), backend="remote"),
        Policy("generator", "sft", min_new_feedback=1, backend="remote"),
    ]
    try:
        await add_replies(store, 5)
        first = await tick(service, store, policies, holder="cron")
        assert first.launched is not None
        assert (first.launched.task, first.launched.method) == ("classifier", "sft")
        await service.wait(first.launched.id)
        clock.advance(timedelta(minutes=5))
        # The classifier policy is due again at once (no cooldown, its job failed, the same 60
        # feedback count), but the generator policy has waited longer: it goes first.
        second = await tick(service, store, policies, holder="cron")
        assert second.verdicts[0].due
        assert second.launched is not None
        assert (second.launched.task, second.launched.method) == ("generator", "sft")
    finally:
        await service.close()
        await store.close()
