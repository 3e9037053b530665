"""The full local loop: feedback in the store → tick → job → evaluation → promotion → serving."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tuning_loop.factories import add_flags
from tuning.backends.local import LocalBackend
from tuning.config import Settings
from tuning.lifecycle.scheduler import Policy, tick
from tuning.lifecycle.service import TuningService
from tuning.models.serving import LiveModels
from tuning.records import JobRecord
from tuning.reporting.reports import collect_report
from tuning.store.sqlite.store import SqliteStore

pytestmark = pytest.mark.slow


@pytest.fixture
def store(sqlite_store: SqliteStore) -> SqliteStore:
    """The loop runs on SQLite here; the store contract suite covers Firestore."""
    return sqlite_store


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


async def test_feedback_tick_job_evaluation_promotion_serving(
    store: SqliteStore, settings: Settings
) -> None:
    live = await LiveModels.start(settings=settings, store=store)
    before = live.versions["classifier"]
    await add_flags(store, 300)
    changes: list[JobRecord] = []

    async def record(job: JobRecord) -> None:
        changes.append(job)

    service = TuningService(
        store, settings, {"local": LocalBackend(settings=settings, store=store)}, on_change=record
    )
    policy = Policy(task="classifier", method="sft", min_new_feedback=100)
    result = await tick(service, store, [policy], holder="test")
    assert result.launched is not None
    job = await service.wait(result.launched.id)

    assert job.state == "SUCCEEDED", job.error
    assert job.outcome == "promoted", job.metrics
    states = [c.state for c in job.history]
    assert states[0] == "QUEUED"
    assert states[-3:] == ["RUNNING", "EVALUATING", "SUCCEEDED"]  # PENDING may be too quick to see
    assert len(states) == len(set(states))
    assert job.dataset_stats["counts"]["from_feedback"] > 0
    assert job.metrics["candidate"]["f1"] > job.metrics["active"]["f1"]
    assert changes[0].state == "QUEUED"
    assert changes[-1].outcome == "promoted"
    points = [p for p in (await collect_report(store)).points if p.version == job.candidate_version]
    assert [(p.metric, p.value) for p in points] == [("f1", job.metrics["candidate"]["f1"])]

    assert await live.refresh() is True
    assert live.versions["classifier"] == job.candidate_version != before
    wrong = await live.classify(["The printer in Oslo is on fire again. Please file a ticket."])
    assert wrong[0].label == "not_sarcastic"

    # Nothing new: the next tick launches nothing.
    again = await tick(service, store, [policy], holder="test")
    assert again.launched is None
    await live.close()
