"""Fixtures for the tuning-loop tests: a file-backed store, settings, a service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tuning.backends.base import TuningBackend
from tuning.backends.local import LocalBackend
from tuning.config import Settings
from tuning.lifecycle.service import TuningService
from tuning.records import JobRecord
from tuning.store.sqlite.store import SqliteStore


@pytest.fixture
def loop_settings(tmp_path: Path) -> Settings:
    """Settings whose data dir and store live in tmp_path."""
    return Settings(
        data_dir=tmp_path / "data",
        store_url=f"sqlite:///{tmp_path / 'store.db'}",
    )


class Recorder:
    """Collects every job the service reports through on_change."""

    def __init__(self) -> None:
        self.jobs: list[JobRecord] = []

    async def __call__(self, job: JobRecord) -> None:
        self.jobs.append(job)


@pytest.fixture
async def service(
    sqlite_store: SqliteStore, loop_settings: Settings
) -> AsyncIterator[tuple[TuningService, Recorder]]:
    """A TuningService with the local backend, recording its on_change calls."""
    recorder = Recorder()
    backends: dict[str, TuningBackend] = {
        "local": LocalBackend(settings=loop_settings, store=sqlite_store)
    }
    svc = TuningService(sqlite_store, loop_settings, backends, on_change=recorder)
    yield svc, recorder
    await svc.close()
