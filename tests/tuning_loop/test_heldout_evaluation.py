"""Evaluation on held-out human feedback: channel labels at their threshold, ratings, pairs."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from tests.tuning_loop.factories import add_flags, add_replies
from tuning.backends.local_job import train_local
from tuning.config import Settings
from tuning.datasets.assemble import DatasetConfig
from tuning.datasets.export import export_dataset
from tuning.datasets.feedback import read_feedback
from tuning.evaluation.comparison import ModelEvaluator
from tuning.evaluation.keys import (
    CHANNEL_COUNT,
    CHANNEL_F1,
    HELD_OUT_PAIRS,
    HELD_OUT_RATINGS,
    HUMAN_AGREEMENT,
    PREFERENCE_ACCURACY,
    REWARD_AUC,
    flag_rate_key,
)
from tuning.models.builders import build_from_base, register
from tuning.models.local_classifier import LocalClassifier
from tuning.models.thresholds import flag_rates
from tuning.records import ChannelSettings
from tuning.store.sqlite.store import SqliteStore

pytestmark = pytest.mark.slow


async def test_classifier_flag_rates_are_at_the_channels_threshold(
    sqlite_store: SqliteStore, loop_settings: Settings, tmp_path: Path
) -> None:
    data_dir = loop_settings.data_dir
    active = await register(sqlite_store, build_from_base(data_dir, "classifier"), promote=True)
    await add_flags(sqlite_store, 160)
    await sqlite_store.put_channel_settings(ChannelSettings("C1", threshold=0.9))
    files = await export_dataset(
        sqlite_store,
        task="classifier",
        method="sft",
        out=tmp_path / "dataset",
        data_dir=data_dir,
        config=DatasetConfig(min_train=1),
    )
    assert files.feedback is not None
    held = read_feedback(files.feedback, split="validation").labels
    assert held
    built = train_local(
        task="classifier", method="sft", dataset=files, base=active, data_dir=data_dir
    )
    candidate = await register(sqlite_store, dataclasses.replace(built, job_id="j"), promote=False)

    comparison = await ModelEvaluator(settings=loop_settings, store=sqlite_store).compare(
        task="classifier",
        method="sft",
        candidate=candidate,
        active=active,
        validation=files.validation,
    )

    assert comparison.active is not None
    # Decided on the held-out channel labels at the channel's threshold, not on base rows.
    assert comparison.decided_by == CHANNEL_F1
    assert comparison.interval.n == len(held) < comparison.candidate["n"]
    assert comparison.active[CHANNEL_COUNT] == len(held)
    assert comparison.interval.estimate == pytest.approx(
        comparison.candidate[CHANNEL_F1] - comparison.active[CHANNEL_F1]
    )
    for model, metrics in ((candidate, comparison.candidate), (active, comparison.active)):
        assert metrics[CHANNEL_COUNT] == len(held)
        assert 0.0 <= metrics[CHANNEL_F1] <= 1.0
        probabilities = LocalClassifier.load(Path(model.artifact)).probabilities(
            [label.text for label in held]
        )
        expected = flag_rates({"C1": probabilities}, {"C1": 0.9})["C1"]
        assert metrics[flag_rate_key("C1")] == pytest.approx(expected)


async def test_generator_agreement_with_held_out_ratings_and_pairs(
    sqlite_store: SqliteStore, loop_settings: Settings, tmp_path: Path
) -> None:
    data_dir = loop_settings.data_dir
    active = await register(sqlite_store, build_from_base(data_dir, "generator"), promote=True)
    await add_replies(sqlite_store, 80)
    files = await export_dataset(
        sqlite_store,
        task="generator",
        method="preference",
        out=tmp_path / "dataset",
        data_dir=data_dir,
        config=DatasetConfig(min_train=1),
    )
    assert files.feedback is not None
    held = read_feedback(files.feedback, split="validation")
    built = train_local(
        task="generator", method="preference", dataset=files, base=active, data_dir=data_dir
    )
    candidate = await register(sqlite_store, dataclasses.replace(built, job_id="j"), promote=False)

    comparison = await ModelEvaluator(settings=loop_settings, store=sqlite_store).compare(
        task="generator",
        method="preference",
        candidate=candidate,
        active=active,
        validation=files.validation,
    )

    assert comparison.active is not None
    assert comparison.decided_by == HUMAN_AGREEMENT
    ours, theirs = comparison.candidate, comparison.active
    assert ours[HELD_OUT_RATINGS] == len(held.ratings) > 0
    assert ours[HELD_OUT_PAIRS] == len(held.pairs) > 0
    assert comparison.interval.n == len(held.ratings) + len(held.pairs)
    assert ours[HUMAN_AGREEMENT] == pytest.approx(
        (ours[REWARD_AUC] + ours[PREFERENCE_ACCURACY]) / 2
    )
    # Learnt from the same kind of preference (a sarcastic retry over a flat first reply).
    assert ours[PREFERENCE_ACCURACY] >= theirs[PREFERENCE_ACCURACY]
    estimate = ours[HUMAN_AGREEMENT] - theirs[HUMAN_AGREEMENT]
    assert math.isclose(comparison.interval.estimate, estimate, abs_tol=1e-9)
