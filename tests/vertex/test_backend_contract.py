"""The TuningBackend contract, run against the local backend and the Vertex backend alike.

The Vertex backend talks to the fake Vertex AI server and the GCS emulator; the local one trains
for real on this machine. Both must walk a job to an end state the same way.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from tests.vertex.conftest import DatasetMaker
from tuning.backends.base import RemoteStatus, TuningBackend
from tuning.backends.local import LocalBackend
from tuning.config import Settings
from tuning.records import ENDED_JOB_STATES, JobRecord


@pytest.fixture(params=["local", pytest.param("vertex", marks=pytest.mark.emulator)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> TuningBackend:
    if request.param == "local":
        return LocalBackend(settings=Settings(data_dir=tmp_path / "data"))
    made: TuningBackend = request.getfixturevalue("make_backend")()
    return made


def job(name: str = "contract") -> JobRecord:
    return JobRecord(id=f"job-{name}", task="classifier", method="sft", backend="any")


async def launch(backend: TuningBackend, record: JobRecord, dataset: Any) -> JobRecord:
    remote = await backend.start(job=record, dataset=dataset, base=None)
    assert remote
    return dataclasses.replace(record, backend=backend.name, remote_name=remote)


async def until_ended(backend: TuningBackend, record: JobRecord) -> list[RemoteStatus]:
    seen: list[RemoteStatus] = []
    for _ in range(200):
        status = await backend.status(job=record)
        seen.append(status)
        if status.state in ENDED_JOB_STATES:
            if isinstance(backend, LocalBackend):
                await backend.wait_idle()  # let a cancelled worker finish before the loop closes
            return seen
        await asyncio.sleep(0.05)
    raise AssertionError(f"job never ended: {[s.state for s in seen]}")


async def test_a_job_walks_to_succeeded_with_an_artifact(
    backend: TuningBackend, make_dataset: DatasetMaker
) -> None:
    record = await launch(backend, job(), make_dataset(train=40, validation=6))
    seen = await until_ended(backend, record)
    states = [s.state for s in seen]
    assert states[-1] == "SUCCEEDED", seen[-1].error
    assert set(states[:-1]) <= {"QUEUED", "PENDING", "RUNNING"}
    assert seen[-1].artifact
    assert all(s.artifact is None for s in seen[:-1])


async def test_cancelling_a_pending_job_ends_it_cancelled(
    backend: TuningBackend, make_dataset: DatasetMaker
) -> None:
    record = await launch(backend, job("cancel"), make_dataset(train=40, validation=6))
    await backend.cancel(job=record)
    assert (await until_ended(backend, record))[-1].state == "CANCELLED"


async def test_cancelling_an_ended_job_leaves_it_alone(
    backend: TuningBackend, make_dataset: DatasetMaker
) -> None:
    record = await launch(backend, job("ended"), make_dataset(train=40, validation=6))
    final = (await until_ended(backend, record))[-1]
    await backend.cancel(job=record)
    again = await backend.status(job=record)
    assert (again.state, again.artifact) == (final.state, final.artifact)
