"""Manifests of datasets and model versions: which stored records each holds (ids, never text).

Pure functions. A dataset's ``record_ids`` are those of every interaction and correction whose
text (or text derived from it) can appear in its files: a rated flag (a person's label, the
human-labelled messages included), a rated reply with every "try again" reply it descends from
(their prompt is the one the dataset keys it by), and each correction with the reply it corrects.
A reinforcement dataset holds every prompt, rated or not. The rule errs on the side of listing:
a superset only deletes a little more than needed, a missing id would leave text behind.

>>> from tuning.datasets.export import Snapshot
>>> from tuning.records import Interaction
>>> def reply(id, parent=None):
...     return Interaction(id=id, team="T", channel="C", ts=id, kind="generate",
...                        input_text="is it green?", output="Sure.", model_version="v",
...                        parent_id=parent)
>>> snapshot = Snapshot((reply("a"), reply("b", "a"), reply("c")), {"b": 1})
>>> sorted(dataset_record_ids(snapshot, task="generator", method="sft"))
['a', 'b']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path

from tuning.datasets.export import Snapshot
from tuning.datasets.generator import lineage
from tuning.records import (
    Affected,
    Interaction,
    Manifest,
    Method,
    ModelVersion,
    Task,
    correction_id,
    dataset_manifest_id,
    model_manifest_id,
)

EXPORT_PREFIX = "export-"  # a `python -m tuning export` dataset is named after its directory
# Backends whose artifact is a directory of ours (the local models; the openai backend's index
# of exemplars): deleting it deletes the model's copy of the records. A Vertex model has none.
LOCAL_ARTIFACTS = frozenset({"local", "openai"})


def export_name(out: Path) -> str:
    """Return the dataset name of an export written to ``out``.

    >>> export_name(Path("/data/exports/cls-1"))
    'export-cls-1'
    """
    return EXPORT_PREFIX + out.name


def dataset_record_ids(snapshot: Snapshot, *, task: Task, method: Method) -> frozenset[str]:
    """Return the ids of every record whose text can be in the dataset built from ``snapshot``."""
    if task == "classifier":
        return frozenset(
            i.id for i in snapshot.interactions if i.kind == "classify" and i.id in snapshot.ratings
        )
    replies = {i.id: i for i in snapshot.interactions if i.kind == "generate"}
    if method == "reinforcement":  # every prompt, rated or not; corrections are not used
        return frozenset(_lineages(replies.values(), replies))
    corrections = [c for c in snapshot.corrections if c.interaction_id in replies]
    used = [i for i in replies.values() if i.id in snapshot.ratings]
    used += [replies[c.interaction_id] for c in corrections]
    fixes = {correction_id(interaction_id=c.interaction_id, user=c.user) for c in corrections}
    return frozenset(_lineages(used, replies)) | fixes


def oldest_record(snapshot: Snapshot, record_ids: frozenset[str]) -> datetime | None:
    """Return when the oldest of ``record_ids`` in ``snapshot`` was created, or None."""
    times = [i.created_at for i in snapshot.interactions if i.id in record_ids]
    times += [
        c.created_at
        for c in snapshot.corrections
        if correction_id(interaction_id=c.interaction_id, user=c.user) in record_ids
    ]
    return min(times, default=None)


def dataset_manifest(
    *, name: str, task: Task, method: Method, snapshot: Snapshot, location: Path, now: datetime
) -> Manifest:
    """Return the manifest of the dataset built from ``snapshot`` and written to ``location``."""
    ids = dataset_record_ids(snapshot, task=task, method=method)
    return Manifest(
        id=dataset_manifest_id(name),
        kind="dataset",
        task=task,
        record_ids=ids,
        locations=(str(location.resolve()),),
        oldest=oldest_record(snapshot, ids),
        created_at=now,
        updated_at=now,
    )


def model_manifest(
    model: ModelVersion,
    *,
    dataset: Manifest | None,
    base: Manifest | None = None,
    now: datetime,
) -> Manifest:
    """Return the manifest of a model version trained on ``dataset``, continuing from ``base``.

    A generator keeps what its base held (the local pair pool, the openai exemplars, a Vertex
    model tuned on top of another), so it lists its base's records too and is affected when
    its base is. No dataset and no base: a seed-only model, with no records.
    """
    sources = [m for m in (dataset, base if model.task == "generator" else None) if m is not None]
    ids = frozenset().union(*(m.record_ids for m in sources))
    oldest = min((m.oldest for m in sources if m.oldest is not None), default=None)
    affected: Affected = next((m.affected for m in sources if m.affected), "")
    local = model.backend in LOCAL_ARTIFACTS and model.artifact
    return Manifest(
        id=model_manifest_id(task=model.task, version=model.version),
        kind="model",
        task=model.task,
        record_ids=ids,
        locations=(model.artifact,) if local else (),
        oldest=oldest,
        affected=affected,
        created_at=now,
        updated_at=now,
    )


def with_location(manifest: Manifest, location: str, *, now: datetime) -> Manifest:
    """Return ``manifest`` with ``location`` added to its locations (once)."""
    if location in manifest.locations:
        return manifest
    return dataclasses.replace(manifest, locations=(*manifest.locations, location), updated_at=now)


def merged(old: Manifest, new: Manifest) -> Manifest:
    """Return ``new`` rewritten over ``old``'s files: both sets of records, old flags kept.

    A job's dataset directory rewritten by another process (its validation split rebuilt) still
    holds what the model learnt from the first write, so nothing listed is dropped.
    """
    oldest = min((t for t in (old.oldest, new.oldest) if t is not None), default=None)
    return dataclasses.replace(
        new,
        record_ids=old.record_ids | new.record_ids,
        locations=tuple(dict.fromkeys((*old.locations, *new.locations))),
        oldest=oldest,
        affected=old.affected or new.affected,
        pending=old.pending,
        created_at=old.created_at,
    )


def _lineages(
    interactions: Iterable[Interaction], by_id: Mapping[str, Interaction]
) -> Iterable[str]:
    """Yield each interaction's id and those of the replies it retried, back to the first."""
    for interaction in interactions:
        yield from (link.id for link in lineage(interaction, by_id))
