"""Models built from base data learn only from the train split the datasets put it in.

The tuning loop scores every model on a dataset's validation split; a bootstrapped model that had
learned those rows would win every comparison from memory.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.tuning_loop.factories import reply
from tuning.datasets.assemble import DatasetConfig
from tuning.datasets.basedata import (
    LabelledMessage,
    ReplyPair,
    fingerprint,
    load_seed_messages,
    save_bootstrapped,
)
from tuning.datasets.examples import text_split
from tuning.datasets.export import Snapshot, base_examples, build_dataset
from tuning.datasets.formats import sft_pair
from tuning.models import artifacts
from tuning.models.builders import build_classifier, build_from_base, train_messages
from tuning.models.local_classifier import KIND, cross_validated_f1
from tuning.models.local_generator import LocalGenerator
from tuning.prompts import LABEL_WORDS
from tuning.text import normalize

OPEN = DatasetConfig(min_train=1, min_validation=1, balance=False)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data dir with a bootstrapped dataset on top of the seed data."""
    messages = [
        LabelledMessage(f"Oh sure, the tram to stop {i} is right on time, as ever", 1)
        for i in range(40)
    ] + [LabelledMessage(f"The tram to stop {i} runs every ten minutes", 0) for i in range(40)]
    pairs = [
        ReplyPair(f"The tram to stop {i} is late", f"Late? The tram to stop {i}? Unthinkable.")
        for i in range(60)
    ]
    save_bootstrapped(tmp_path, name="trams", messages=messages, pairs=pairs)
    return tmp_path


def _texts_and_labels(lines: tuple[str, ...]) -> list[tuple[str, int]]:
    pairs = [sft_pair(json.loads(line)) for line in lines]
    return [(text, int(target == LABEL_WORDS["sarcastic"])) for text, target in pairs]


def test_bootstrapped_classifier_learns_exactly_the_datasets_train_split(data_dir: Path) -> None:
    dataset = build_dataset(
        "classifier", "sft", Snapshot((), {}), base=base_examples(data_dir), config=OPEN
    )
    train = _texts_and_labels(dataset.train)
    validation = {normalize(text) for text, _ in _texts_and_labels(dataset.validation)}
    assert len(validation) > 10  # seed and bootstrapped rows hash into validation

    model = build_from_base(data_dir, "classifier")

    meta = artifacts.read_meta(Path(model.artifact), kind=KIND)
    assert meta["fingerprint"] == fingerprint(train)  # the same rows, in the same order
    assert model.metrics["n_train"] == len(train)
    assert not validation & {normalize(text) for text, _ in train}


def test_bootstrapped_generator_pool_holds_no_validation_prompt(data_dir: Path) -> None:
    model = build_from_base(data_dir, "generator")
    pool = LocalGenerator.load(Path(model.artifact)).pairs
    # Users asking exactly a base message, approved: the generator dataset splits on the prompt.
    prompts = [f"The tram to stop {i} is late" for i in range(60)]
    asked = [reply(f"g{i}", prompt, "Right on time, as ever.") for i, prompt in enumerate(prompts)]
    dataset = build_dataset(
        "generator", "sft", Snapshot(tuple(asked), {a.id: 1 for a in asked}), config=OPEN
    )
    held_out = {normalize(text) for text, _ in map(sft_pair, map(json.loads, dataset.validation))}
    assert held_out  # some of these prompts are validation prompts
    assert not held_out & {normalize(pair.message) for pair in pool}
    assert all(text_split(pair.message) == "train" for pair in pool)
    assert model.metrics["n_pairs"] == len(pool) > 200  # the rest of seed and bootstrapped pairs


def test_bootstrap_cross_validates_on_every_row_but_fits_the_train_split(tmp_path: Path) -> None:
    every = load_seed_messages()
    train = train_messages(every)
    assert 0 < len(train) < len(every)
    texts, labels = [m.text for m in every], [m.label for m in every]
    model = build_classifier(tmp_path, train, cv_folds=5, cv_on=every)
    assert model.metrics["n_train"] == len(train)
    assert model.metrics["cv_f1"] == pytest.approx(cross_validated_f1(texts, labels, folds=5))
