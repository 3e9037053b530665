"""Make the ``openai`` versions a bot serves with MODEL_BACKEND=openai, from what the store holds.

At startup the configured server is checked first (one line naming OPENAI_BASE_URL or
OPENAI_MODEL when it is not there). Then, where the active generator is not an ``openai``
version of OPENAI_MODEL, one is built: the reward model of the active generator (what the
loop has learnt so far) and the few-shot index of approved replies and corrections in the
store's train split, so evaluation never sees its own answers as exemplars. The classifier
follows only with OPENAI_CLASSIFIER_MODEL. Later versions come from tuning jobs
(:mod:`tuning.backends.openai`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import cast

from tuning.config import Settings
from tuning.datasets.classifier import build_classifier_examples
from tuning.datasets.examples import text_split
from tuning.datasets.generator import build_generator_examples
from tuning.datasets.ratings import net_ratings
from tuning.errors import ModelError
from tuning.models.builders import register
from tuning.models.few_shot import Exemplar, LabelledExample
from tuning.models.label_calibration import parse_label
from tuning.models.local_generator import LocalGenerator
from tuning.models.openai_client import build_client, check_server
from tuning.models.openai_index import build_index_version, load_index
from tuning.models.reward import RewardModel
from tuning.records import (
    Correction,
    Interaction,
    Manifest,
    ModelVersion,
    Task,
    correction_id,
    model_manifest_id,
)
from tuning.redaction import redact
from tuning.store.base import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Liked:
    """What people liked, read from the store: generator exemplars and labelled messages."""

    exemplars: tuple[Exemplar, ...]
    examples: tuple[LabelledExample, ...]
    # Per task, the id and creation time of every record whose text the index holds (for the
    # version's manifest; a try-again reply's parents too, whose prompt it repeats).
    held: Mapping[Task, Mapping[str, datetime]] = field(default_factory=dict)

    def manifest(self, model: ModelVersion, *, now: datetime) -> Manifest:
        """Return the manifest of an index version built from this feedback."""
        held = self.held.get(model.task, {})
        return Manifest(
            id=model_manifest_id(task=model.task, version=model.version),
            kind="model",
            task=model.task,
            record_ids=frozenset(held),
            locations=(model.artifact,),
            oldest=min(held.values(), default=None),
            created_at=now,
            updated_at=now,
        )


async def read_feedback(store: Store) -> Liked:
    """Return the train-split exemplars (approved replies, corrections) and labelled flags."""
    interactions = [item async for item in store.iter_interactions()]
    by_id = {i.id: i for i in interactions}
    ratings = net_ratings([item async for item in store.iter_feedback()])
    approved = [
        e
        for e in build_generator_examples(interactions, ratings).items
        if text_split(e.input) == "train"
    ]
    exemplars = [Exemplar(e.input, e.target) for e in approved]
    replies = _lineage(by_id, (e.source for e in approved))
    for exemplar, correction in await _corrections(store, by_id):
        exemplars.append(exemplar)
        replies |= _lineage(by_id, [f"interaction:{correction.interaction_id}"])
        replies[correction_id(interaction_id=correction.interaction_id, user=correction.user)] = (
            correction.created_at
        )
    flags = build_classifier_examples(interactions, ratings, [], balance=False).items
    labelled = [(e, parse_label(e.target)) for e in flags if text_split(e.input) == "train"]
    used = [(e, label) for e, label in labelled if label]
    examples = [LabelledExample(e.input, label) for e, label in used]
    held: dict[Task, Mapping[str, datetime]] = {
        "generator": replies,
        "classifier": _lineage(by_id, (e.source for e, _ in used)),
    }
    return Liked(exemplars=tuple(exemplars), examples=tuple(examples), held=held)


def _lineage(by_id: Mapping[str, Interaction], sources: Iterable[str]) -> dict[str, datetime]:
    """Return the id and time of each ``interaction:<id>`` source and of the replies it retried."""
    found: dict[str, datetime] = {}
    for source in sources:
        interaction = by_id.get(source.removeprefix("interaction:"))
        while interaction is not None and interaction.id not in found:
            found[interaction.id] = interaction.created_at
            interaction = by_id.get(interaction.parent_id or "")
    return found


async def _corrections(
    store: Store, by_id: dict[str, Interaction]
) -> list[tuple[Exemplar, Correction]]:
    """Return human corrections as exemplars, where the store can list them yet."""
    # Store.iter_corrections arrives with the corrections work; until then there are none.
    iterate = getattr(store, "iter_corrections", None)
    if iterate is None:
        return []
    corrections = cast(Callable[[], AsyncIterator[Correction]], iterate)
    found = []
    async for correction in corrections():
        asked = by_id.get(correction.interaction_id)
        if asked is not None and text_split(asked.input_text) == "train":
            exemplar = Exemplar(asked.input_text, redact(correction.text), "correction")
            found.append((exemplar, correction))
    return found


async def check_configured_server(settings: Settings) -> None:
    """Raise ModelError (one line naming the variable) unless the server serves our models."""
    models = [settings.openai.model]
    if settings.openai.classifier_model:
        models.append(settings.openai.classifier_model)
    client = build_client(settings.openai)
    try:
        await check_server(client, settings.openai, models)
    finally:
        await client.close()


async def ensure_openai_active(*, settings: Settings, store: Store) -> dict[Task, ModelVersion]:
    """Check the server, then make ``openai`` versions active where they are not; return them."""
    await check_configured_server(settings)
    wanted: dict[Task, str] = {"generator": settings.openai.model}
    if settings.openai.classifier_model:
        wanted["classifier"] = settings.openai.classifier_model
    liked: Liked | None = None
    made: dict[Task, ModelVersion] = {}
    for task, model in wanted.items():
        active = await store.active_model(task=task)
        if active is not None and await _serves(active, model):
            made[task] = active
            continue
        liked = liked or await read_feedback(store)
        reward = await asyncio.to_thread(_reward_of, active) if task == "generator" else None
        built = await asyncio.to_thread(
            build_index_version,
            settings.data_dir,
            task=task,
            model=model,
            reward=reward,
            exemplars=liked.exemplars if task == "generator" else (),
            examples=liked.examples if task == "classifier" else (),
        )
        log.info("serving %s on %s as %s", model, settings.openai.base_url, built.version)
        manifest = liked.manifest(built, now=store.clock())
        made[task] = await register(store, built, promote=True, manifest=manifest)
    return made


async def _serves(active: ModelVersion, model: str) -> bool:
    if active.backend != "openai":
        return False
    try:
        index = await asyncio.to_thread(load_index, Path(active.artifact))
    except ModelError:
        log.warning("active %s %s is unreadable; building another", active.task, active.version)
        return False
    return index.model == model


def _reward_of(active: ModelVersion | None) -> RewardModel:
    """Return the reward model the active generator ranks with (the prior if none can be read)."""
    if active is None:
        return RewardModel()
    try:
        if active.backend == "local":
            return LocalGenerator.load(Path(active.artifact)).reward
        if active.backend == "openai":
            return load_index(Path(active.artifact)).reward or RewardModel()
    except ModelError:
        log.warning("cannot read the reward model of %s; starting from the prior", active.version)
    return RewardModel()
