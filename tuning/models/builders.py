"""Train local models from base data, save them as versioned artifacts, and register them.

A version id is ``<clf|gen>-<UTC time>-<first 6 hex of the training-data fingerprint>``, e.g.
``clf-20261125-171500-ab12cd``; its files live in ``DATA_DIR/models/<task>/<version>/``. The
reward model is saved inside the generator's directory and so travels with the generator version:
preference tuning makes a new generator version with the same pairs and new reward weights.

Models built from base data learn only from the rows the datasets hash into the train split
(:func:`tuning.datasets.examples.text_split`), so every model is scored on a validation split
it has never seen, the bootstrapped ones included.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from tuning.config import Settings
from tuning.datasets.basedata import (
    LabelledMessage,
    ReplyPair,
    fingerprint,
    load_base_messages,
    load_base_pairs,
)
from tuning.datasets.examples import text_split
from tuning.errors import ConflictError, ModelError
from tuning.models.local_classifier import LocalClassifier, cross_validated_f1, train_classifier
from tuning.models.local_generator import LocalGenerator
from tuning.models.reward import RewardModel
from tuning.records import Manifest, ModelVersion, Task, model_manifest_id, utcnow
from tuning.store.base import Store

log = logging.getLogger(__name__)
PREFIX: dict[Task, str] = {"classifier": "clf", "generator": "gen"}
INITIAL_TRAINING_TTL = timedelta(minutes=5)


def new_version(task: Task, data_fingerprint: str, *, now: datetime | None = None) -> str:
    """Return a version id from the task, the UTC time and the training-data fingerprint."""
    return f"{PREFIX[task]}-{(now or utcnow()):%Y%m%d-%H%M%S}-{data_fingerprint[:6]}"


def model_dir(data_dir: Path, task: Task, version: str) -> Path:
    """Return the directory that holds the files of one model version."""
    return (data_dir / "models" / task / version).resolve()


def train_messages(messages: Sequence[LabelledMessage]) -> list[LabelledMessage]:
    """Return the messages whose text the datasets put in the train split."""
    return [m for m in messages if text_split(m.text) == "train"]


def train_pairs(pairs: Sequence[ReplyPair]) -> list[ReplyPair]:
    """Return the pairs whose message the datasets put in the train split (prompts are keys)."""
    return [p for p in pairs if text_split(p.message) == "train"]


def build_classifier(
    data_dir: Path,
    messages: Sequence[LabelledMessage],
    *,
    cv_folds: int = 5,
    cv_on: Sequence[LabelledMessage] | None = None,
    channel: Sequence[bool] | None = None,
) -> ModelVersion:
    """Train a classifier on ``messages``, save it, and return its (unregistered) version.

    ``cv_folds`` >= 2 adds ``cv_f1``, cross-validated on ``cv_on`` (default: ``messages``).
    ``channel`` marks the messages that are channel feedback, to calibrate on. The version's
    metrics hold its decision ``threshold`` (also in the sidecar, where loading reads it).
    """
    texts = [m.text for m in messages]
    labels = [m.label for m in messages]
    data_fp = fingerprint(zip(texts, labels, strict=True))
    version = new_version("classifier", data_fp)
    pipeline, metrics = train_classifier(
        texts, labels, cv_folds=cv_folds if cv_on is None else 0, channel=channel
    )
    if cv_on is not None and cv_folds >= 2:
        cv_texts, cv_labels = [m.text for m in cv_on], [m.label for m in cv_on]
        metrics["cv_f1"] = cross_validated_f1(cv_texts, cv_labels, folds=cv_folds)
    directory = model_dir(data_dir, "classifier", version)
    classifier = LocalClassifier(pipeline, version=version, threshold=metrics["threshold"])
    classifier.save(directory, fingerprint=data_fp, metrics=metrics)
    return ModelVersion(
        task="classifier",
        version=version,
        backend="local",
        artifact=str(directory),
        metrics=metrics,
    )


def build_generator(
    data_dir: Path, pairs: Sequence[ReplyPair], *, reward: RewardModel | None = None
) -> ModelVersion:
    """Build a generator over ``pairs`` (ranking with ``reward``), save it, return its version."""
    model = reward or RewardModel()
    data_fp = fingerprint([*pairs, json.dumps(model.to_dict(), sort_keys=True)])
    version = new_version("generator", data_fp)
    generator = LocalGenerator(pairs, version=version, reward=model)
    metrics = {
        "n_pairs": float(len(generator.pairs)),
        "n_preferences": float(model.n_pairs),
        "n_ratings": float(model.n_ratings),
    }
    directory = model_dir(data_dir, "generator", version)
    generator.save(directory, fingerprint=data_fp, metrics=metrics)
    return ModelVersion(
        task="generator", version=version, backend="local", artifact=str(directory), metrics=metrics
    )


def build_from_base(data_dir: Path, task: Task) -> ModelVersion:
    """Train the ``task`` model from the train split of the base data (seed plus bootstrapped).

    No cross-validation here: a first start should take seconds; ``bootstrap`` and tuning jobs
    measure quality.
    """
    if task == "classifier":
        return build_classifier(data_dir, train_messages(load_base_messages(data_dir)), cv_folds=0)
    return build_generator(data_dir, train_pairs(load_base_pairs(data_dir)))


async def register(
    store: Store, model: ModelVersion, *, promote: bool, manifest: Manifest | None = None
) -> ModelVersion:
    """Register a saved version (idempotently) with its manifest, and optionally make it active.

    Without ``manifest`` the version is seed-only: built from base data, it lists no records,
    only its artifact directory. A manifest already stored for the version is left as it is.
    """
    if manifest is None:
        now = store.clock()
        manifest = Manifest(
            id=model_manifest_id(task=model.task, version=model.version),
            kind="model",
            task=model.task,
            locations=(model.artifact,) if model.artifact else (),
            created_at=now,
            updated_at=now,
        )
    if await store.get_manifest(manifest.id) is None:
        await store.put_manifest(manifest)
    try:
        await store.add_model(model)
    except ConflictError:
        log.info("%s %s was already registered", model.task, model.version)
    if promote:
        return await store.promote(task=model.task, version=model.version)
    return model


async def ensure_active(
    *,
    settings: Settings,
    store: Store,
    tasks: Sequence[Task] = ("classifier", "generator"),
    wait_seconds: float = 120.0,
) -> dict[Task, ModelVersion]:
    """Return the active version of each task, training one from base data where none is active.

    One process trains (it holds a store claim); others wait for it to promote its version.
    """
    holder = uuid.uuid4().hex
    active: dict[Task, ModelVersion] = {}
    for task in tasks:
        model = await store.active_model(task=task)
        if model is None:
            model = await _train_once(settings, store, task, holder, wait_seconds)
        active[task] = model
    return active


async def _train_once(
    settings: Settings, store: Store, task: Task, holder: str, wait_seconds: float
) -> ModelVersion:
    key = f"initial-training:{task}"
    if await store.claim(key, ttl=INITIAL_TRAINING_TTL, holder=holder):
        try:
            log.info("no active %s: training one from base data", task)
            built = await asyncio.to_thread(build_from_base, settings.data_dir, task)
            return await register(store, built, promote=True)
        finally:
            await store.release(key, holder=holder)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    while loop.time() < deadline:
        await asyncio.sleep(0.5)
        model = await store.active_model(task=task)
        if model is not None:
            return model
    raise ModelError(f"no active {task}: another process is training one and did not finish")
