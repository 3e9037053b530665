"""Real local tuning jobs for the privacy tests, and an export as `python -m tuning export` does."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from tuning.backends.local import LocalBackend
from tuning.cli import export as export_verb
from tuning.config import Settings
from tuning.datasets.assemble import DatasetConfig
from tuning.errors import ConflictError
from tuning.lifecycle.registry import promote
from tuning.lifecycle.service import TuningService
from tuning.records import JobRecord, Task
from tuning.store.base import Store


def tuning_service(
    store: Store, settings: Settings, *, min_train: int | None = None
) -> TuningService:
    """Return a TuningService with the local backend (``min_train``: smaller datasets pass)."""
    config = {"local": DatasetConfig(min_train=min_train)} if min_train else None
    backends = {"local": LocalBackend(settings=settings, store=store)}
    return TuningService(store, settings, backends, dataset_config=config)


async def retrain(service: TuningService, store: Store, task: Task) -> JobRecord:
    """Run one SFT job to its end; an admin promotes a kept candidate, so the active model has it.

    A candidate withheld because its data was forgotten while it trained stays unpromoted.
    """
    job = await service.wait((await service.launch(task=task, method="sft")).id)
    if job.state == "SUCCEEDED" and job.outcome == "kept" and job.candidate_version:
        with contextlib.suppress(ConflictError):  # built from forgotten data: never served
            await promote(store, task=task, version=job.candidate_version, actor="U0", reason="t")
    return job


async def export(settings: Settings, task: Task, out: Path, *, min_train: int | None = None) -> int:
    """Run the export verb in-process; return its exit status."""
    args = argparse.Namespace(
        task=task, method="sft", out=out, backend=None, min_train=min_train, json=True
    )
    return await export_verb.run(args, settings)
