"""Job lifecycle edge cases: too-small data, conflicts, failures, cancellation, resume."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import timedelta
from pathlib import Path

import pytest

from tests.tuning_loop.conftest import Recorder
from tests.tuning_loop.factories import add_flags
from tuning.backends.base import RemoteStatus, TuningBackend
from tuning.backends.local import LocalBackend
from tuning.config import Settings
from tuning.datasets.files import DatasetFiles
from tuning.errors import ConflictError
from tuning.lifecycle.service import TuningService
from tuning.records import JobRecord, ModelVersion, StateChange, utcnow
from tuning.store.sqlite.store import SqliteStore

Service = tuple[TuningService, Recorder]


class RemoteFailure(TuningBackend):
    """A remote backend whose jobs run a moment and then fail, as Vertex reports it."""

    name = "remote"

    def __init__(self) -> None:
        self.polls = 0
        self.cancelled: list[str] = []

    async def start(
        self, *, job: JobRecord, dataset: DatasetFiles, base: ModelVersion | None
    ) -> str:
        return f"projects/p/locations/l/tuningJobs/{job.id}"

    async def status(self, *, job: JobRecord) -> RemoteStatus:
        self.polls += 1
        if self.polls < 3:
            return RemoteStatus(state="RUNNING")
        return RemoteStatus(state="FAILED", error="quota exceeded for tuning jobs")

    async def cancel(self, *, job: JobRecord) -> None:
        self.cancelled.append(job.id)


async def test_too_small_dataset_fails_clearly_and_writes_nothing(
    service: Service, loop_settings: Settings
) -> None:
    svc, recorder = service
    job = await svc.wait((await svc.launch(task="generator", method="sft")).id)
    assert job.state == "FAILED"
    assert job.error is not None
    assert "too small: 0 training examples, need at least 20" in job.error
    assert job.remote_name is None  # the backend was never asked
    assert not (loop_settings.data_dir / "datasets" / job.id / "train.jsonl").exists()
    assert [j.state for j in recorder.jobs] == ["QUEUED", "FAILED"]


async def test_one_job_at_a_time(service: Service, sqlite_store: SqliteStore) -> None:
    svc, _ = service
    await add_flags(sqlite_store, 40)
    first = await svc.launch(task="classifier", method="sft")
    with pytest.raises(ConflictError, match="one tuning job runs at a time"):
        await svc.launch(task="generator", method="sft")
    assert (await svc.wait(first.id)).state == "SUCCEEDED"


async def test_a_failed_remote_job_keeps_its_error(
    sqlite_store: SqliteStore, loop_settings: Settings
) -> None:
    await add_flags(sqlite_store, 40)
    backend = RemoteFailure()
    svc = TuningService(
        sqlite_store,
        loop_settings,
        {"remote": backend},
        poll_seconds={"remote": 0.01},
        dataset_config=None,
    )
    launched = await svc.launch(task="classifier", method="sft", backend="remote")
    job = await svc.wait(launched.id)
    assert job.state == "FAILED"
    assert job.error == "quota exceeded for tuning jobs"
    assert job.outcome == "failed"
    assert [c.state for c in job.history] == ["QUEUED", "RUNNING", "FAILED"]
    stored = await sqlite_store.get_job(job.id)
    assert stored is not None
    assert stored.error == "quota exceeded for tuning jobs"


async def test_cancel_a_remote_job(sqlite_store: SqliteStore, loop_settings: Settings) -> None:
    await add_flags(sqlite_store, 40)
    backend = RemoteFailure()
    svc = TuningService(
        sqlite_store, loop_settings, {"remote": backend}, poll_seconds={"remote": 5}
    )
    launched = await svc.launch(task="classifier", method="sft", backend="remote")
    await svc.wait_launched(launched.id)
    job = await svc.cancel(launched.id)
    assert job.state == "CANCELLED"
    assert backend.cancelled == [launched.id]
    await svc.close()


class BrokenOnCancel(TuningBackend):
    """A remote backend whose status call, when cancelled, fails with a bug of its own."""

    name = "remote"

    def __init__(self) -> None:
        self.polling = asyncio.Event()

    async def start(
        self, *, job: JobRecord, dataset: DatasetFiles, base: ModelVersion | None
    ) -> str:
        raise AssertionError("not started in this test")

    async def status(self, *, job: JobRecord) -> RemoteStatus:
        self.polling.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise RuntimeError("secret-token-123 leaked in a cleanup error") from None
        raise AssertionError("unreachable")

    async def cancel(self, *, job: JobRecord) -> None:
        pass


async def test_cancel_logs_a_job_task_that_fails_while_cancelled(
    sqlite_store: SqliteStore, loop_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    backend = BrokenOnCancel()
    svc = TuningService(sqlite_store, loop_settings, {"remote": backend})
    now = utcnow()
    running = JobRecord(
        id="job-remote",
        task="classifier",
        method="sft",
        backend="remote",
        state="RUNNING",
        remote_name="projects/p/locations/l/tuningJobs/job-remote",
        history=(StateChange("RUNNING", now),),
        created_at=now,
        updated_at=now,
    )
    await sqlite_store.save_job(running)
    await svc.resume(follow=True)
    await backend.polling.wait()
    with caplog.at_level(logging.WARNING, logger="tuning.lifecycle.service"):
        job = await svc.cancel("job-remote")
    assert job.state == "CANCELLED"
    assert "job job-remote: its task failed as it was cancelled (RuntimeError)" in caplog.text
    assert "secret-token-123" not in caplog.text
    await svc.close()


async def test_resume_fails_jobs_whose_process_died(
    service: Service, sqlite_store: SqliteStore
) -> None:
    svc, _ = service
    old = utcnow() - timedelta(hours=1)
    base = JobRecord(
        id="job-orphan-a",
        task="classifier",
        method="sft",
        backend="local",
        history=(StateChange("QUEUED", old),),
        created_at=old,
        updated_at=old,
    )
    await sqlite_store.save_job(base)
    running = dataclasses.replace(
        base, id="job-orphan-b", state="RUNNING", remote_name="local/job-orphan-b"
    )
    await sqlite_store.save_job(running)
    fresh = dataclasses.replace(base, id="job-fresh", created_at=utcnow(), updated_at=utcnow())
    await sqlite_store.save_job(fresh)

    await svc.resume(follow=False)
    a, b, c = [await sqlite_store.get_job(i) for i in ("job-orphan-a", "job-orphan-b", "job-fresh")]
    assert a is not None
    assert a.state == "FAILED"
    assert a.error == "interrupted before it started"
    assert b is not None
    assert b.state == "FAILED"
    assert "launch the job again" in (b.error or "")
    assert c is not None
    assert c.state == "QUEUED"


async def test_resume_finishes_a_local_job_another_process_completed(
    service: Service, sqlite_store: SqliteStore, loop_settings: Settings, tmp_path: Path
) -> None:
    svc, recorder = service
    await add_flags(sqlite_store, 60)
    # A first process runs the job to the end of training, then "dies" before evaluating.
    other = TuningService(sqlite_store, loop_settings, svc._backends)  # same local backend
    launched = await other.launch(task="classifier", method="sft")
    await other.wait_launched(launched.id)
    backend = svc._backends["local"]
    assert isinstance(backend, LocalBackend)
    await backend.wait_idle()
    await other.close()
    job = await sqlite_store.get_job(launched.id)
    assert job is not None
    assert not job.ended
    stale = dataclasses.replace(job, updated_at=utcnow() - timedelta(hours=1))
    await sqlite_store.save_job(stale)
    fresh_backends: dict[str, TuningBackend] = {
        "local": LocalBackend(settings=loop_settings, store=sqlite_store)
    }
    survivor = TuningService(sqlite_store, loop_settings, fresh_backends, on_change=recorder)
    await survivor.resume(follow=False)
    done = await sqlite_store.get_job(launched.id)
    assert done is not None
    assert done.state == "SUCCEEDED", done.error
    assert done.candidate_version
