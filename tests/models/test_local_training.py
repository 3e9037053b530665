"""Models built from base data learn only from the train split the datasets put it in.

The tuning loop scores every model on a dataset's validation split; a bootstrapped model that had
learned those rows would win every comparison from memory.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from tests.tuning_loop.factories import flag_texts, interaction, reply
from tuning.backends.local_job import train_local
from tuning.datasets.assemble import DatasetConfig
from tuning.datasets.basedata import (
    LabelledMessage,
    ReplyPair,
    fingerprint,
    load_seed_messages,
    save_bootstrapped,
)
from tuning.datasets.examples import text_split
from tuning.datasets.export import Snapshot, base_examples, build_dataset, write_dataset
from tuning.datasets.feedback import read_feedback
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


def test_a_generator_job_learns_from_every_rating_in_the_train_split(tmp_path: Path) -> None:

    # Unpaired ratings only: people like replies that name the thing, dislike the rest.
    asked = []
    ratings = {}
    for i in range(80):
        thing = ["printer", "vpn", "wifi", "badge reader"][i % 4]
        item = reply(f"g{i}", f"The {thing} on floor {i} is down", "", minute=i)
        liked = i % 2 == 0
        text = f"Oh good, the {thing} again." if liked else "Classic. Just classic."
        asked.append(dataclasses.replace(item, output=text))
        ratings[item.id] = 1 if liked else -1
    dataset = build_dataset("generator", "sft", Snapshot(tuple(asked), ratings), config=OPEN)
    files = write_dataset(dataset, tmp_path / "dataset")
    assert files.feedback is not None
    learnt = read_feedback(files.feedback, split="train")
    model = train_local(task="generator", method="sft", dataset=files, base=None, data_dir=tmp_path)
    reward = LocalGenerator.load(Path(model.artifact)).reward
    assert reward.n_ratings == len(learnt.ratings) > 50
    assert model.metrics["n_ratings"] == len(learnt.ratings)
    good, bad = reward.score("The scanner is down", ["Oh good, the scanner again.", "Classic."])
    assert good > bad


def test_a_classifier_job_calibrates_on_the_channel_rows(data_dir: Path, tmp_path: Path) -> None:

    flags = [
        interaction(f"f{i}", text, label, minute=i)
        for i, (text, label, _) in enumerate(flag_texts(120))
    ]
    ratings = {f"f{i}": r for i, (_, _, r) in enumerate(flag_texts(120))}
    snapshot = Snapshot(tuple(flags), ratings)
    base = base_examples(data_dir)
    with_channel = write_dataset(
        build_dataset("classifier", "sft", snapshot, base=base, config=OPEN), tmp_path / "a"
    )
    model = train_local(
        task="classifier", method="sft", dataset=with_channel, base=None, data_dir=tmp_path
    )
    assert model.metrics["calibrated_on_channel"] == 1.0
    without = dataclasses.replace(with_channel, feedback=None)  # as a Vertex dataset carries
    plain = train_local(
        task="classifier", method="sft", dataset=without, base=None, data_dir=tmp_path
    )
    assert plain.metrics["calibrated_on_channel"] == 0.0
