"""Rebuild an active local model in place, without the records forget-me or retention removed.

The recipe (issue 13's design): export a fresh dataset from the store as it is now, train the
local model from base data plus that dataset with no base model (the generator's pair pool would
otherwise inherit the forgotten pairs), register it with its manifest and promote it atomically.
With too little data for a dataset, it is rebuilt from base data alone, as on a first start.
There is no evaluation gate: it is a privacy rebuild, and the old model serves until the swap.
The training dataset is deleted once the model is built: the model's manifest traces the rest.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import uuid
from datetime import datetime, timedelta

from tuning.backends.local import active_sarcasm
from tuning.backends.local_job import train_local
from tuning.config import Settings
from tuning.datasets.assemble import DatasetConfig
from tuning.datasets.export import export_dataset
from tuning.errors import ConflictError, DatasetError
from tuning.models.builders import build_from_base, register
from tuning.records import Kind, Manifest, ModelVersion, Task, correction_id
from tuning.store.base import Store

log = logging.getLogger(__name__)
REBUILD_TTL = timedelta(minutes=15)


class LocalRebuild:
    """Build, register and promote a replacement for an active local model (see above)."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._data_dir = settings.data_dir

    async def __call__(self, model: ModelVersion) -> ModelVersion:
        """Return the promoted replacement of ``model``; ConflictError if a rebuild is running."""
        key, holder = f"privacy-rebuild:{model.task}", uuid.uuid4().hex
        if not await self._store.claim(key, ttl=REBUILD_TTL, holder=holder):
            raise ConflictError(f"another process is rebuilding the {model.task}")
        try:
            built, ids, oldest = await self._build(model.task)
            await register(self._store, built, promote=False)
            now = self._store.clock()
            await self._store.put_manifest(
                Manifest(
                    id=f"model:{built.task}:{built.version}",
                    kind="model",
                    task=built.task,
                    record_ids=ids,
                    locations=(built.artifact,),
                    oldest=oldest,
                    created_at=now,
                    updated_at=now,
                )
            )
            promoted = await self._store.promote(task=built.task, version=built.version)
            log.info("rebuilt %s %s as %s", model.task, model.version, built.version)
            return promoted
        finally:
            await self._store.release(key, holder=holder)

    async def _build(self, task: Task) -> tuple[ModelVersion, frozenset[str], datetime | None]:
        out = self._data_dir / "datasets" / f"rebuild-{task}-{uuid.uuid4().hex[:8]}"
        try:
            # Read the records before the export: a record added in between is then in neither
            # the ids nor the files, never in the files alone.
            ids, oldest = await traced_records(self._store, task)
            try:
                files = await export_dataset(
                    self._store,
                    task=task,
                    method="sft",
                    out=out,
                    data_dir=self._data_dir,
                    config=DatasetConfig(min_train=1),
                )
                sarcasm = await active_sarcasm(self._store) if task == "generator" else None
                built = await asyncio.to_thread(
                    train_local,
                    task=task,
                    method="sft",
                    dataset=files,
                    base=None,
                    data_dir=self._data_dir,
                    sarcasm=sarcasm,
                )
            except DatasetError:
                log.info("too little data to rebuild the %s: using base data only", task)
                built = await asyncio.to_thread(build_from_base, self._data_dir, task)
                return built, frozenset(), None
            return built, ids, oldest
        finally:
            await asyncio.to_thread(shutil.rmtree, out, True)


async def traced_records(store: Store, task: Task) -> tuple[frozenset[str], datetime | None]:
    """Return the ids (and oldest time) of every record a ``task`` dataset can draw on.

    A superset of what one dataset holds: every interaction of the task's kind, and for the
    generator every correction.
    """
    ids: set[str] = set()
    oldest: datetime | None = None
    kind: Kind = "classify" if task == "classifier" else "generate"
    async for interaction in store.iter_interactions(kind=kind):
        ids.add(interaction.id)
        oldest = min(oldest or interaction.created_at, interaction.created_at)
    if task == "generator":
        async for correction in store.iter_corrections():
            ids.add(correction_id(interaction_id=correction.interaction_id, user=correction.user))
            oldest = min(oldest or correction.created_at, correction.created_at)
    return frozenset(ids), oldest
