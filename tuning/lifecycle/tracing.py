"""Store the manifests of the datasets jobs and exports write, and of the candidates jobs land.

A dataset's manifest is stored before its files are written, so there is never a file that no
manifest lists; a Vertex upload adds its URI to the manifest of the dataset it copies. A
candidate's manifest lists its dataset's records (and its base's, for a generator) and inherits
their ``affected`` flag: a job whose data was forgotten while it trained lands flagged.
"""

from __future__ import annotations

import logging
from pathlib import Path

from tuning.datasets.assemble import DatasetConfig
from tuning.datasets.export import Progress, read_snapshot, write_snapshot
from tuning.datasets.files import DatasetFiles
from tuning.privacy.manifests import dataset_manifest, merged, model_manifest, with_location
from tuning.records import (
    Affected,
    JobRecord,
    Manifest,
    Method,
    ModelVersion,
    Task,
    dataset_manifest_id,
    model_manifest_id,
)
from tuning.store.base import Store

log = logging.getLogger(__name__)
# Why a candidate is never promoted, in plain words, by what happened to its training data.
WITHHELD_BECAUSE: dict[Affected, str] = {
    "forgotten": (
        "not promoted: someone asked to be forgotten while it trained, and its training data "
        "held their messages; retrain for a clean model"
    ),
    "expired": (
        "not promoted: its training data passed the retention window while it trained; "
        "retrain for a clean model"
    ),
}


async def export_traced(
    store: Store,
    *,
    name: str,
    task: Task,
    method: Method,
    out: Path,
    data_dir: Path,
    config: DatasetConfig | None = None,
    progress: Progress | None = None,
    keep: bool = False,
) -> DatasetFiles:
    """Export a dataset to ``out`` with its manifest ``dataset:<name>`` stored first.

    ``keep`` merges into an existing manifest of the same name (a job's dataset rewritten by
    another process) instead of replacing it (an export written over an earlier one).
    """
    snapshot = await read_snapshot(store, task=task, progress=progress)
    manifest = dataset_manifest(
        name=name, task=task, method=method, snapshot=snapshot, location=out, now=store.clock()
    )
    old = await store.get_manifest(manifest.id) if keep else None
    await store.put_manifest(manifest if old is None else merged(old, manifest))
    return await write_snapshot(
        snapshot, task=task, method=method, out=out, data_dir=data_dir, config=config
    )


async def record_candidate(store: Store, model: ModelVersion, *, job: JobRecord) -> Manifest:
    """Store and return the manifest of a job's candidate (flagged if its data was hit)."""
    dataset = await store.get_manifest(dataset_manifest_id(job.id))
    base_version = job.config.get("base_version")
    base = (
        await store.get_manifest(model_manifest_id(task=job.task, version=str(base_version)))
        if base_version
        else None
    )
    manifest = model_manifest(model, dataset=dataset, base=base, now=store.clock())
    # Another process may have landed it first, or forget-me flagged it already: keep that.
    old = await store.get_manifest(manifest.id)
    manifest = manifest if old is None else merged(old, manifest)
    await store.put_manifest(manifest)
    return manifest


async def affected_by(store: Store, *, task: Task, version: str) -> Affected:
    """Return why a model version must not be served ("" when its manifest is clean or missing)."""
    manifest = await store.get_manifest(model_manifest_id(task=task, version=version))
    return "" if manifest is None else manifest.affected


async def record_upload(store: Store, path: Path, uri: str) -> None:
    """Add an uploaded copy of a dataset file to the manifest of the dataset it belongs to."""
    folder = str(path.parent.resolve())
    for manifest in await store.list_manifests():
        if manifest.kind == "dataset" and folder in manifest.locations:
            await store.put_manifest(with_location(manifest, uri, now=store.clock()))
            return
    log.warning("uploaded %s from %s, which no dataset manifest lists", uri, folder)
