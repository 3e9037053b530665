"""Read feedback from the store, build a dataset and write it atomically as JSONL files.

The only part of :mod:`tuning.datasets` that does I/O. CPU-bound building runs off the event
loop. Files are written to temporary names first and renamed once all four are complete, so
an error leaves no half-written dataset behind.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tuning.datasets.assemble import Dataset, DatasetConfig, assemble
from tuning.datasets.basedata import load_base_messages
from tuning.datasets.classifier import build_classifier_examples
from tuning.datasets.examples import BaseRow, Built, Example, PreferencePair, split_of
from tuning.datasets.feedback import FILE as FEEDBACK_FILE
from tuning.datasets.feedback import (
    RatedReply,
    Row,
    channel_labels,
    human_pairs,
    rated_replies,
    to_lines,
)
from tuning.datasets.files import DatasetFiles
from tuning.datasets.generator import build_generator_examples, build_preference_pairs
from tuning.datasets.ratings import add_rating
from tuning.datasets.reinforcement import build_reinforcement_prompts
from tuning.errors import DatasetError, StoreError
from tuning.files import write_all_atomic
from tuning.records import Correction, Interaction, Kind, Method, Task, frozen_mapping
from tuning.store.base import Store

Progress = Callable[[int], None]  # called with the number of records just read
Record = TypeVar("Record")
# What decoding a malformed stored record raises: a missing field, a wrong type, a bad value.
UNREADABLE = (KeyError, TypeError, ValueError)
TRAIN_FEEDBACK = "train_feedback"  # stats count: human feedback rows in the train split


@dataclass(frozen=True)
class Snapshot:
    """The interactions of one kind, the net rating of each rated one, and corrections."""

    interactions: tuple[Interaction, ...]
    ratings: Mapping[str, int]
    corrections: tuple[Correction, ...] = ()


async def read_snapshot(store: Store, *, task: Task, progress: Progress | None = None) -> Snapshot:
    """Read the interactions a task learns from, and their feedback; raise StoreError if broken."""
    kind: Kind = "classify" if task == "classifier" else "generate"
    interactions: list[Interaction] = []
    net: dict[str, int] = {}  # summed as the feedback streams by, so it is never all in memory
    async for interaction in _decoded(store.iter_interactions(kind=kind)):
        interactions.append(interaction)
        if progress and len(interactions) % 1000 == 0:
            progress(1000)
    async for item in _decoded(store.iter_feedback()):
        add_rating(net, item)
    ids = {interaction.id for interaction in interactions}
    ratings = {i: r for i, r in net.items() if i in ids}
    corrections = await read_corrections(store) if task == "generator" else ()
    return Snapshot(
        interactions=tuple(interactions),
        ratings=ratings,
        corrections=tuple(c for c in corrections if c.interaction_id in ids),
    )


async def read_corrections(store: Store) -> tuple[Correction, ...]:
    """Return every stored correction; none from a store that does not keep them yet."""
    # Store.iter_corrections is being added alongside this; until every store has it, a store
    # without the method simply has no corrections to learn from.
    iter_corrections = getattr(store, "iter_corrections", None)
    if iter_corrections is None:
        return ()
    records: AsyncIterator[Correction] = iter_corrections()
    return tuple([correction async for correction in _decoded(records)])


async def _decoded(records: AsyncIterator[Record]) -> AsyncIterator[Record]:
    """Yield ``records``; a decoding or validation error while reading one becomes StoreError.

    Only the store's own step is guarded: an error in the caller's loop body is a bug and
    propagates as it is. The store codec already names a malformed record; this covers a
    store that lets a decoding error through.
    """
    iterator = aiter(records)
    while True:
        try:
            record = await anext(iterator)
        except StopAsyncIteration:
            return
        except UNREADABLE as exc:
            raise StoreError(
                f"a stored record is unreadable ({type(exc).__name__}: {exc})"
            ) from exc
        yield record


def base_examples(data_dir: Path) -> list[BaseRow]:
    """Return the seed and bootstrapped labelled messages as base classifier data."""
    return [
        BaseRow(row.text, "sarcastic" if row.label == 1 else "not_sarcastic", f"base:{n}")
        for n, row in enumerate(load_base_messages(data_dir))
    ]


def build_dataset(
    task: Task,
    method: Method,
    snapshot: Snapshot,
    *,
    base: Sequence[BaseRow] = (),
    config: DatasetConfig | None = None,
) -> Dataset:
    """Build, validate and split the dataset for ``task``/``method`` (pure)."""
    config = config or DatasetConfig()
    fraction = config.validation_fraction
    built: Built[Example] | Built[PreferencePair]
    rows: list[Row]
    if task == "classifier" and method == "sft":
        built = build_classifier_examples(
            snapshot.interactions, snapshot.ratings, base, balance=config.balance
        )
        rows = [*channel_labels(built, snapshot.interactions, validation_fraction=fraction)]
    elif task == "generator" and method in ("sft", "preference"):
        pairs = build_preference_pairs(
            snapshot.interactions,
            snapshot.ratings,
            max_pairs_per_prompt=config.max_pairs_per_prompt,
            corrections=snapshot.corrections,
        )
        built = pairs
        if method == "sft":
            built = build_generator_examples(
                snapshot.interactions, snapshot.ratings, corrections=snapshot.corrections
            )
        rows = [
            *rated_replies(snapshot.interactions, snapshot.ratings, validation_fraction=fraction),
            *human_pairs(pairs, validation_fraction=fraction),
        ]
    elif task == "generator" and method == "reinforcement":
        built = build_reinforcement_prompts(snapshot.interactions, snapshot.ratings)
        rows = [
            *rated_replies(snapshot.interactions, snapshot.ratings, validation_fraction=fraction)
        ]
    else:
        raise DatasetError(f"no {method} dataset for the {task}: {method} tuning is generator-only")
    dataset = assemble(task, method, built, config)
    learnt = _learnt_from(task, built, rows, fraction)
    stats = {**dataset.stats, "counts": {**dataset.stats["counts"], TRAIN_FEEDBACK: learnt}}
    return dataclasses.replace(dataset, stats=frozen_mapping(stats), feedback=to_lines(rows))


def _learnt_from(
    task: Task, built: Built[Example] | Built[PreferencePair], rows: Sequence[Row], fraction: float
) -> int:
    """Return how much human feedback the train split holds: labels, ratings and corrections."""
    train = [row for row in rows if row.split == "train"]
    if task == "classifier":
        return len(train)
    corrections = {
        item.source.split(">")[0]
        for item in built.items
        if item.source.startswith("correction:")
        and split_of(item.key, validation_fraction=fraction) == "train"
    }
    return sum(isinstance(row, RatedReply) for row in train) + len(corrections)


def write_dataset(dataset: Dataset, out: Path) -> DatasetFiles:
    """Write train, validation and feedback JSONL and stats.json into ``out``, all or nothing."""
    out.mkdir(parents=True, exist_ok=True)
    contents = {
        "train.jsonl": "".join(line + "\n" for line in dataset.train).encode(),
        "validation.jsonl": "".join(line + "\n" for line in dataset.validation).encode(),
        FEEDBACK_FILE: "".join(line + "\n" for line in dataset.feedback).encode(),
    }
    stats: dict[str, Any] = dict(dataset.stats)
    stats["sha256"] = {name: hashlib.sha256(data).hexdigest() for name, data in contents.items()}
    contents["stats.json"] = json.dumps(stats, ensure_ascii=False, indent=1).encode()
    try:
        write_all_atomic(out, contents)
    except OSError as exc:
        raise DatasetError(f"could not write the dataset to {out}: {exc.strerror or exc}") from exc
    return DatasetFiles(
        train=out / "train.jsonl",
        validation=out / "validation.jsonl",
        stats=summary(stats),
        feedback=out / FEEDBACK_FILE,
    )


def summary(stats: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return ``stats`` without the itemised skips, small enough to keep on a job record."""
    return frozen_mapping({key: value for key, value in stats.items() if key != "skips"})


async def export_dataset(
    store: Store,
    *,
    task: Task,
    method: Method,
    out: Path,
    data_dir: Path,
    config: DatasetConfig | None = None,
    progress: Progress | None = None,
) -> DatasetFiles:
    """Read the store, build the dataset and write it to ``out``; raise DatasetError if unusable."""
    snapshot = await read_snapshot(store, task=task, progress=progress)
    return await write_snapshot(
        snapshot, task=task, method=method, out=out, data_dir=data_dir, config=config
    )


async def write_snapshot(
    snapshot: Snapshot,
    *,
    task: Task,
    method: Method,
    out: Path,
    data_dir: Path,
    config: DatasetConfig | None = None,
) -> DatasetFiles:
    """Build the dataset from ``snapshot`` and write it to ``out``; raise DatasetError if unfit."""
    base = await asyncio.to_thread(base_examples, data_dir) if task == "classifier" else []
    dataset = await asyncio.to_thread(
        build_dataset, task, method, snapshot, base=base, config=config
    )
    return await asyncio.to_thread(write_dataset, dataset, out)
