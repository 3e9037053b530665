"""Evaluation metrics and the promotion rule, table-driven and checked against scikit-learn."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import f1_score, precision_score, roc_auc_score

from tuning.evaluation.metrics import (
    classifier_metrics,
    distinct_n,
    generator_metrics,
    quality,
    roc_auc,
    win_rate,
)


@pytest.mark.parametrize(
    ("labels", "probs", "expected"),
    [
        (
            [1, 0],
            [0.9, 0.1],
            {"f1": 1.0, "precision": 1.0, "recall": 1.0, "accuracy": 1.0, "roc_auc": 1.0},
        ),
        (
            [1, 0],
            [0.1, 0.9],
            {"f1": 0.0, "precision": 0.0, "recall": 0.0, "accuracy": 0.0, "roc_auc": 0.0},
        ),
        (
            [1, 1, 0, 0],
            [0.9, 0.4, 0.2, 0.6],
            {"f1": 0.5, "precision": 0.5, "recall": 0.5, "roc_auc": 0.75},
        ),
        ([1, 1, 1, 0], [0.6, 0.6, 0.6, 0.6], {"precision": 0.75, "recall": 1.0, "roc_auc": 0.5}),
        ([0, 0], [0.2, 0.7], {"f1": 0.0, "accuracy": 0.5}),
    ],
)
def test_classifier_metrics_table(
    labels: list[int], probs: list[float], expected: dict[str, float]
) -> None:
    metrics = classifier_metrics(labels, probs)
    for name, value in expected.items():
        assert metrics[name] == pytest.approx(value), name


def test_roc_auc_is_nan_for_one_class() -> None:
    assert math.isnan(roc_auc([1, 1], [0.2, 0.3]))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 1), st.sampled_from([0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0])),
        min_size=2,
        max_size=40,
    )
)
def test_metrics_agree_with_scikit_learn(rows: list[tuple[int, float]]) -> None:
    labels = [y for y, _ in rows]
    probs = [p for _, p in rows]
    metrics = classifier_metrics(labels, probs)
    predicted = [int(p >= 0.5) for p in probs]
    assert metrics["f1"] == pytest.approx(f1_score(labels, predicted, zero_division=0.0))
    if len(set(labels)) == 2:
        assert metrics["roc_auc"] == pytest.approx(roc_auc_score(labels, probs))


@pytest.mark.parametrize(
    ("texts", "expected"),
    [([], 0.0), (["one"], 0.0), (["a b c"], 1.0), (["a b", "a b"], 0.5), (["A b", "a B c"], 2 / 3)],
)
def test_distinct_2(texts: list[str], expected: float) -> None:
    assert distinct_n(texts, n=2) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("cand", "active", "expected"),
    [([1.0], [0.0], 1.0), ([0.0], [0.0], 0.5), ([0, 1], [1, 0], 0.5)],
)
def test_win_rate(cand: list[float], active: list[float], expected: float) -> None:
    assert win_rate(cand, active) == expected


def test_generator_quality_is_the_mean_of_its_parts() -> None:
    metrics = generator_metrics(
        sarcasm=[0.9, 0.1], relevance=[0.5, 0.3], replies=["a b c", "d e"], wins=0.6
    )
    assert metrics["sarcasm_rate"] == 0.5
    assert metrics["quality"] == pytest.approx((0.5 + 0.4 + 1.0 + 0.6) / 4)


@pytest.mark.parametrize(
    ("metrics", "expected"),
    [
        ({"sarcasm_rate": 0.5, "relevance": 0.4, "distinct_2": 1.0, "reward_win_rate": 0.6}, 0.625),
        # Not measured (no prompts, no active model to win against): the rest still count.
        ({"sarcasm_rate": 0.5, "relevance": math.nan, "reward_win_rate": math.nan}, 0.5),
        ({"sarcasm_rate": 0.5, "preference_accuracy": 1.0, "n": 40.0}, 0.75),  # n is no part
        ({"relevance": math.nan}, math.nan),
    ],
)
def test_quality_is_the_mean_of_the_parts_that_were_measured(
    metrics: dict[str, float], expected: float
) -> None:
    assert quality(metrics) == pytest.approx(expected, nan_ok=True)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 1),
            st.sampled_from([0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 1.0]),
            st.sampled_from([0.5, 0.8, 0.9]),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_per_message_thresholds_agree_with_scikit_learn(
    rows: list[tuple[int, float, float]],
) -> None:
    labels = [y for y, _, _ in rows]
    metrics = classifier_metrics(labels, [p for _, p, _ in rows], threshold=[t for *_, t in rows])
    predicted = [int(p >= t) for _, p, t in rows]
    assert metrics["f1"] == pytest.approx(f1_score(labels, predicted, zero_division=0.0))
    assert metrics["precision"] == pytest.approx(
        precision_score(labels, predicted, zero_division=0.0)
    )
