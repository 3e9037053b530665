"""Thresholds belong to the model: chosen out of fold, stored, used; flag rates per channel."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import f1_score

from tuning.datasets.basedata import LabelledMessage, load_seed_messages
from tuning.models.builders import build_classifier
from tuning.models.local_classifier import (
    MIN_CHANNEL_ROWS,
    LocalClassifier,
    calibration_rows,
    train_classifier,
)
from tuning.models.thresholds import best_threshold, flag_rates


@pytest.mark.parametrize(
    ("labels", "probabilities", "expected"),
    [
        ([1, 0], [0.9, 0.1], 0.9),
        ([1, 1, 0, 0, 1, 0], [0.9, 0.6, 0.55, 0.2, 0.4, 0.1], 0.4),
        ([1, 0, 1], [0.3, 0.3, 0.3], 0.3),  # ties are flagged together
        ([0, 0], [0.7, 0.2], 0.5),  # nothing sarcastic: nothing to choose
        ([1, 0], [0.66666666, 0.1], 0.66666666),  # the row it is chosen at is still flagged
    ],
)
def test_best_threshold(labels: list[int], probabilities: list[float], expected: float) -> None:
    assert best_threshold(labels, probabilities) == expected


def test_best_threshold_maximises_f1() -> None:
    rng = random.Random(3)
    labels = [rng.random() < 0.3 for _ in range(200)]
    probabilities = [min(1.0, max(0.0, rng.gauss(0.6 if y else 0.4, 0.2))) for y in labels]
    chosen = best_threshold([int(y) for y in labels], probabilities)
    p = np.array(probabilities)
    best = max(f1_score(labels, p >= t) for t in p)
    assert f1_score(labels, p >= chosen) == pytest.approx(best)


def test_flag_rates_per_channel() -> None:
    rates = flag_rates(
        {"C1": [0.9, 0.5, 0.2, 0.85], "C2": [0.3, 0.6], "C3": []}, {"C1": 0.8, "C2": 0.5}
    )
    assert rates["C1"] == 0.5
    assert rates["C2"] == 0.5
    assert math.isnan(rates["C3"])
    assert flag_rates({"C4": [0.75, 0.81]}, {}) == {"C4": 0.5}  # the default 0.8


def test_built_classifier_stores_and_uses_its_threshold(tmp_path: Path) -> None:
    seed = load_seed_messages()
    version = build_classifier(tmp_path, seed, cv_folds=0)
    threshold = version.metrics["threshold"]
    assert 0.0 < threshold < 1.0
    loaded = LocalClassifier.load(Path(version.artifact))
    assert loaded.threshold == threshold
    texts = [m.text for m in seed[:60]]
    for prediction in loaded.predict(texts):
        expected = "sarcastic" if prediction.probability >= threshold else "not_sarcastic"
        assert prediction.label == expected


def channel_data() -> tuple[list[LabelledMessage], list[bool]]:
    """Seed rows plus channel rows whose sarcasm is far rarer than in the seed data."""
    seed = load_seed_messages()
    sarcastic = [m.text for m in seed if m.label == 1][:10]
    sincere = [m.text for m in seed if m.label == 0][:70]
    channel = [LabelledMessage(f"{t} (in #general)", 1) for t in sarcastic]
    channel += [LabelledMessage(f"{t} (in #general)", 0) for t in sincere]
    return [*seed, *channel], [False] * len(seed) + [True] * len(channel)


def test_calibrates_on_channel_feedback_when_there_is_enough() -> None:
    messages, channel = channel_data()
    texts, labels = [m.text for m in messages], [m.label for m in messages]
    assert sum(channel) >= MIN_CHANNEL_ROWS
    assert calibration_rows(labels, channel).tolist() == channel
    assert calibration_rows(labels, [True] * 5 + [False] * (len(labels) - 5)).all()
    _, everywhere = train_classifier(texts, labels, cv_folds=0)
    pipeline, on_channel = train_classifier(texts, labels, cv_folds=0, channel=channel)
    assert everywhere["calibrated_on_channel"] == 0.0
    assert on_channel["calibrated_on_channel"] == 1.0
    channel_texts = [t for t, c in zip(texts, channel, strict=True) if c]
    ours = LocalClassifier(pipeline, version="v").probabilities(channel_texts)
    plain, _ = train_classifier(texts, labels, cv_folds=0)
    theirs = LocalClassifier(plain, version="v").probabilities(channel_texts)
    assert ours != pytest.approx(theirs)  # a different Platt fit
    # The channel is 1/8 sarcastic; calibrated on it, its mean probability says so.
    assert float(np.mean(ours)) == pytest.approx(10 / 80, abs=0.05)


def test_a_backwards_channel_fit_falls_back_to_every_row() -> None:
    # Channel labels that contradict the seed data: on them a higher score means less sarcastic,
    # so a channel-only Platt fit would have a negative slope and invert the model.
    seed = load_seed_messages()
    sarcastic = [m.text for m in seed if m.label == 1][:30]
    sincere = [m.text for m in seed if m.label == 0][:30]
    channel = [LabelledMessage(f"{t} (in #general)", 0) for t in sarcastic]
    channel += [LabelledMessage(f"{t} (in #general)", 1) for t in sincere]
    messages = [*seed, *channel]
    marks = [False] * len(seed) + [True] * len(channel)
    texts, labels = [m.text for m in messages], [m.label for m in messages]
    assert calibration_rows(labels, marks).tolist() == marks  # enough channel rows to try

    pipeline, metrics = train_classifier(texts, labels, cv_folds=0, channel=marks)

    assert metrics["calibrated_on_channel"] == 0.0
    model = LocalClassifier(pipeline, version="v")
    held = [m for m in seed[len(seed) // 2 :] if m.text not in sarcastic + sincere]
    p = model.probabilities([m.text for m in held])
    on_sarcastic = np.mean([x for x, m in zip(p, held, strict=True) if m.label == 1])
    on_sincere = np.mean([x for x, m in zip(p, held, strict=True) if m.label == 0])
    assert on_sarcastic > on_sincere  # still ranks the seed data the right way round
