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
from datetime import timedelta

from tuning.backends.local import active_sarcasm
from tuning.backends.local_job import train_local
from tuning.config import Settings
from tuning.datasets.assemble import DatasetConfig
from tuning.errors import ConflictError, DatasetError
from tuning.lifecycle.tracing import export_traced
from tuning.models.builders import build_from_base, register
from tuning.privacy.manifests import model_manifest
from tuning.records import Manifest, ModelVersion, Task, dataset_manifest_id
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
            built, manifest = await self._build(model.task)
            if manifest is not None and manifest.affected:
                # Forgotten in another process while this one trained: build again next tick.
                raise ConflictError(f"the {model.task} rebuild read records forgotten meanwhile")
            await register(self._store, built, promote=False, manifest=manifest)
            promoted = await self._store.promote(task=built.task, version=built.version)
            log.info("rebuilt %s %s as %s", model.task, model.version, built.version)
            return promoted
        finally:
            await self._store.release(key, holder=holder)

    async def _build(self, task: Task) -> tuple[ModelVersion, Manifest | None]:
        """Train the replacement; return it with its manifest (None: seed-only)."""
        name = f"rebuild-{task}-{uuid.uuid4().hex[:8]}"
        out = self._data_dir / "datasets" / name
        try:
            # Traced like a job's dataset, so a crash before the cleanup leaves no untraced file.
            files = await export_traced(
                self._store,
                name=name,
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
            dataset = await self._store.get_manifest(dataset_manifest_id(name))
            return built, model_manifest(built, dataset=dataset, now=self._store.clock())
        except DatasetError:
            log.info("too little data to rebuild the %s: using base data only", task)
            return await asyncio.to_thread(build_from_base, self._data_dir, task), None
        finally:
            await asyncio.to_thread(shutil.rmtree, out, True)
            await self._store.delete_manifest(dataset_manifest_id(name))
