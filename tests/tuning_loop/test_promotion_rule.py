"""The promotion rule (table-driven) and the paired bootstrap under it (hypothesis, scikit-learn).

The 0.01-margin rule of test_evaluate.py's old table is replaced by the paired rule: each of its
rows is here, restated with the interval the comparison would measure.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import f1_score, roc_auc_score

from tuning.evaluation.decision import Evidence, Rule, decide, silenced_channels
from tuning.evaluation.paired import (
    Interval,
    agreement_difference,
    auc_of,
    f1_difference,
    f1_of,
    paired_bootstrap,
)

NAN = math.nan


def evidence(
    interval: Interval,
    *,
    ours: float = 0.8,
    theirs: float = 0.78,
    fed: tuple[int, int] = (0, 0),
    silenced: tuple[str, ...] = (),
    task: str = "classifier",
) -> Evidence:
    return Evidence(task, "f1", ours, theirs, interval, fed[0], fed[1], silenced)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("case", "has_active", "force", "promote", "reason"),
    [
        (evidence(Interval(0.02, 0.01, 0.03, 60)), False, False, True, "no active model"),
        (evidence(Interval(0.02, 0.01, 0.03, 60)), True, False, True, "better beyond noise"),
        # Better on average but within noise, and trained on no more feedback: kept.
        (evidence(Interval(0.005, -0.03, 0.04, 60)), True, False, False, "within noise"),
        (
            evidence(Interval(-0.08, -0.12, -0.04, 60), ours=0.7),
            True,
            False,
            False,
            "worse beyond noise",
        ),
        (evidence(Interval(-0.08, -0.12, -0.04, 60), ours=0.7), True, True, True, "forced"),
        (evidence(Interval(NAN, NAN, NAN, 60), ours=NAN), True, False, False, "not be measured"),
        # Not worse beyond the tolerance, and trained on more human feedback: promoted.
        (
            evidence(Interval(0.0, -0.005, 0.01, 60), fed=(40, 10)),
            True,
            False,
            True,
            "not worse, more human feedback",
        ),
        # More feedback does not excuse being worse than the tolerance.
        (
            evidence(Interval(-0.01, -0.08, 0.02, 60), fed=(40, 10)),
            True,
            False,
            False,
            "possibly worse by more than 0.05",
        ),
        # Too few held-out items: kept, with the reason saying so, however good it looks.
        (
            evidence(Interval(0.3, 0.2, 0.4, 29)),
            True,
            False,
            False,
            "not enough held-out feedback yet: 29 items, need 30",
        ),
        (
            evidence(Interval(0.3, 0.2, 0.4, 19), task="generator"),
            True,
            False,
            False,
            "not enough held-out feedback yet: 19 items, need 20",
        ),
        (evidence(Interval(0.3, 0.2, 0.4, 20), task="generator"), True, False, True, "better"),
        # No held-out channel labels at all (so no channel F1): too few, not "not measurable".
        (
            evidence(Interval(NAN, NAN, NAN, 0), ours=NAN),
            True,
            False,
            False,
            "not enough held-out feedback yet: 0 items, need 30",
        ),
        # A candidate that would silence a channel is refused, even when better overall.
        (
            evidence(Interval(0.1, 0.05, 0.2, 60), silenced=("C1",)),
            True,
            False,
            False,
            "would stop flagging in C1",
        ),
        (evidence(Interval(0.1, 0.05, 0.2, 60), silenced=("C1",)), True, True, True, "forced"),
    ],
)
def test_promotion_rule(
    case: Evidence, has_active: bool, force: bool, promote: bool, reason: str
) -> None:
    decision = decide(case, has_active=has_active, force=force)
    assert decision.promote is promote
    assert reason in decision.reason
    assert "f1" in decision.reason or "not enough" in decision.reason
    assert decision.enough is ("not enough" not in decision.reason)


def test_the_tolerance_is_the_rules() -> None:
    case = evidence(Interval(0.0, -0.07, 0.05, 60), fed=(40, 10))
    assert not decide(case, has_active=True).promote
    assert decide(case, has_active=True, rule=Rule(tolerance=0.1)).promote


@pytest.mark.parametrize(
    ("ours", "theirs", "counts", "silenced"),
    [
        ({"C1": 0.0}, {"C1": 0.2}, {"C1": 20}, ("C1",)),  # stops flagging
        ({"C1": 0.03}, {"C1": 0.2}, {"C1": 20}, ("C1",)),  # under a fifth of the active's
        ({"C1": 0.05}, {"C1": 0.2}, {"C1": 20}, ()),  # fewer flags, not silenced
        ({"C1": 0.0}, {"C1": 0.02}, {"C1": 20}, ()),  # the active hardly flagged either
        ({"C1": 0.0}, {"C1": 0.5}, {"C1": 9}, ()),  # too few held-out messages to say
        ({}, {"C1": 0.5, "C2": 0.3}, {"C1": 10, "C2": 10}, ("C1", "C2")),
    ],
)
def test_silenced_channels(
    ours: dict[str, float], theirs: dict[str, float], counts: dict[str, int], silenced: tuple
) -> None:
    assert silenced_channels(ours, theirs, counts) == silenced


rows = st.lists(st.tuples(st.booleans(), st.booleans(), st.booleans()), min_size=1, max_size=60)


@settings(max_examples=40, deadline=None)
@given(rows)
def test_f1_difference_is_paired_and_deterministic(data: list[tuple[bool, bool, bool]]) -> None:
    labels, ours, theirs = (list(column) for column in zip(*data, strict=True))
    interval = f1_difference(labels, ours, theirs, rounds=200)
    expected = f1_score(labels, ours, zero_division=0.0) - f1_score(
        labels, theirs, zero_division=0.0
    )
    assert interval.estimate == pytest.approx(expected)
    assert interval.n == len(data)
    assert interval.low <= interval.estimate + 1e-12
    assert interval.estimate <= interval.high + 1e-12
    assert f1_difference(labels, ours, theirs, rounds=200) == interval  # fixed seed
    swapped = f1_difference(labels, theirs, ours, rounds=200)  # same resamples, negated
    assert (swapped.low, swapped.high) == pytest.approx((-interval.high, -interval.low))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=60))
def test_a_model_compared_with_itself_differs_by_exactly_nothing(
    data: list[tuple[bool, bool]],
) -> None:
    labels, flags = (list(column) for column in zip(*data, strict=True))
    assert f1_difference(labels, flags, flags, rounds=100) == Interval(0.0, 0.0, 0.0, len(data))


def test_a_clearly_better_model_is_better_beyond_noise_and_a_coin_flip_is_not() -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 200).tolist()
    perfect = list(labels)
    coin = rng.integers(0, 2, 200).tolist()
    other_coin = rng.integers(0, 2, 200).tolist()
    assert f1_difference(labels, perfect, coin).low > 0
    noise = f1_difference(labels, coin, other_coin)
    assert noise.low < 0 < noise.high


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.booleans(), st.sampled_from([0.0, 0.1, 0.5, 0.5, 0.9, 1.0])),
        min_size=2,
        max_size=40,
    )
)
def test_auc_and_f1_agree_with_scikit_learn(data: list[tuple[bool, float]]) -> None:
    labels = np.array([y for y, _ in data])
    scores = np.array([s for _, s in data])
    if len(set(labels.tolist())) == 2:
        assert auc_of(labels, scores) == pytest.approx(roc_auc_score(labels, scores))
    else:
        assert math.isnan(auc_of(labels, scores))
    flagged = scores >= 0.5
    assert f1_of(labels, flagged) == pytest.approx(f1_score(labels, flagged, zero_division=0.0))


def test_agreement_difference_pairs_only_and_ratings_only() -> None:
    pairs_only = agreement_difference([], [], [], [1.0] * 30, [0.0] * 30)
    assert (pairs_only.estimate, pairs_only.low, pairs_only.n) == (1.0, 1.0, 30)
    liked = [True, False] * 15
    ratings_only = agreement_difference(liked, [1.0, 0.0] * 15, [0.0, 1.0] * 15, [], [])
    assert ratings_only.estimate == 1.0  # AUC 1 vs 0
    assert ratings_only.n == 30
    both = agreement_difference(liked, [1.0, 0.0] * 15, [1.0, 0.0] * 15, [1.0] * 10, [0.5] * 10)
    assert both.estimate == pytest.approx(0.25)  # mean(1, 1) - mean(1, 0.5)


def test_no_items_no_interval() -> None:
    interval = paired_bootstrap(lambda groups: 0.0, [0])
    assert interval.n == 0
    assert math.isnan(interval.low)
    assert not decide(evidence(interval), has_active=True).promote
