"""``TuningService.close`` closes every backend it was given, even when one of them fails to."""

from __future__ import annotations

import logging

import pytest

from tuning.backends.base import RemoteStatus, TuningBackend
from tuning.backends.local import LocalBackend
from tuning.config import Settings
from tuning.datasets.files import DatasetFiles
from tuning.lifecycle.service import TuningService
from tuning.records import JobRecord, ModelVersion
from tuning.store.sqlite.store import SqliteStore


class Remote(TuningBackend):
    """A backend that holds a connection until it is closed."""

    def __init__(self, name: str, *, fail: bool = False) -> None:
        self.name = name
        self.fail = fail
        self.closed = 0

    async def start(
        self, *, job: JobRecord, dataset: DatasetFiles, base: ModelVersion | None
    ) -> str:
        raise AssertionError("not started in this test")

    async def status(self, *, job: JobRecord) -> RemoteStatus:
        raise AssertionError("not polled in this test")

    async def cancel(self, *, job: JobRecord) -> None:
        raise AssertionError("not cancelled in this test")

    async def aclose(self) -> None:
        self.closed += 1
        if self.fail:
            raise OSError("connection reset while closing")


async def test_close_closes_every_backend(
    sqlite_store: SqliteStore, loop_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    broken, remote = Remote("broken", fail=True), Remote("remote")
    backends: dict[str, TuningBackend] = {
        "local": LocalBackend(settings=loop_settings, store=sqlite_store),  # the no-op default
        "broken": broken,
        "remote": remote,
    }
    service = TuningService(sqlite_store, loop_settings, backends)

    with caplog.at_level(logging.WARNING, logger="tuning.lifecycle.service"):
        await service.close()

    assert (broken.closed, remote.closed) == (1, 1)
    assert "could not close the broken backend" in caplog.text
