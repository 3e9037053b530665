"""Paired differences between two models on the same validation items, with bootstrap intervals.

Each statistic is candidate minus active, computed on the same items for both, so what the
items have in common (an easy or a hard split) cancels out. The interval is a percentile
bootstrap over items with a fixed seed: the same data always gives the same interval.

>>> interval = f1_difference([1, 1, 0, 0, 1, 0], [1, 1, 0, 0, 1, 0], [1, 0, 1, 0, 1, 0])
>>> (round(interval.estimate, 3), interval.n)
(0.333, 6)
>>> interval.low <= interval.estimate <= interval.high
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

ROUNDS = 1000
LEVEL = 0.95  # two-sided: the lower bound is the 2.5th percentile
SEED = 0

Indices = Sequence[np.ndarray]  # one index array per group of items


@dataclass(frozen=True)
class Interval:
    """A paired difference (candidate minus active), its bootstrap interval, and its items."""

    estimate: float
    low: float
    high: float
    n: int

    def as_dict(self) -> dict[str, float]:
        """Return the interval as plain numbers, to store with a job."""
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "n": float(self.n)}


def paired_bootstrap(
    difference: Callable[[Indices], float],
    sizes: Sequence[int],
    *,
    rounds: int = ROUNDS,
    level: float = LEVEL,
    seed: int = SEED,
) -> Interval:
    """Return ``difference`` on all items and its percentile interval over resampled items.

    Each group of items (``sizes``) is resampled with replacement to its own size (a
    stratified bootstrap). Resamples where the difference is undefined (NaN) are left out;
    with no items, or none defined, everything is NaN.
    """
    n = int(sum(sizes))
    estimate = difference([np.arange(size) for size in sizes]) if n else math.nan
    if not n or math.isnan(estimate):
        return Interval(math.nan, math.nan, math.nan, n)
    rng = np.random.default_rng(seed)
    samples = np.array(
        [difference([rng.integers(0, size, size) for size in sizes]) for _ in range(rounds)]
    )
    samples = samples[~np.isnan(samples)]
    if not len(samples):
        return Interval(estimate, math.nan, math.nan, n)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return Interval(float(estimate), float(low), float(high), n)


def f1_of(labels: np.ndarray, flagged: np.ndarray) -> float:
    """Return F1 of the positive class (0 when nothing is positive or flagged)."""
    true_pos = float(np.sum(labels & flagged))
    denominator = float(np.sum(labels) + np.sum(flagged))
    return 2 * true_pos / denominator if denominator else 0.0


def auc_of(labels: np.ndarray, scores: np.ndarray) -> float:
    """Return the ROC AUC (ties count half), NaN when one class is missing."""
    positives = int(np.sum(labels))
    negatives = len(labels) - positives
    if not positives or not negatives:
        return math.nan
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def f1_difference(
    labels: Sequence[int],
    candidate: Sequence[int],
    active: Sequence[int],
    *,
    rounds: int = ROUNDS,
    seed: int = SEED,
) -> Interval:
    """Return the paired F1 difference of two models' flags (1 = flagged) on the same rows."""
    y = np.asarray(labels, dtype=bool)
    ours, theirs = np.asarray(candidate, dtype=bool), np.asarray(active, dtype=bool)

    def difference(groups: Indices) -> float:
        (rows,) = groups
        return f1_of(y[rows], ours[rows]) - f1_of(y[rows], theirs[rows])

    return paired_bootstrap(difference, [len(y)], rounds=rounds, seed=seed)


def agreement(auc: float, pair_accuracy: float) -> float:
    """Return the mean of the reward AUC and the pair accuracy that were measured (NaN: none)."""
    measured = [value for value in (auc, pair_accuracy) if not math.isnan(value)]
    return sum(measured) / len(measured) if measured else math.nan


def agreement_difference(
    liked: Sequence[bool],
    candidate_scores: Sequence[float],
    active_scores: Sequence[float],
    candidate_pairs: Sequence[float],
    active_pairs: Sequence[float],
    *,
    rounds: int = ROUNDS,
    seed: int = SEED,
) -> Interval:
    """Return the paired difference in agreement with held-out human feedback.

    Agreement is :func:`agreement` of the reward AUC on rated replies (``liked``, scored by each
    model) and the pair accuracy (1, 0.5 for a tie, or 0 per held-out pair). Ratings and pairs
    are resampled separately.
    """
    y = np.asarray(liked, dtype=bool)
    ours_s, theirs_s = np.asarray(candidate_scores, float), np.asarray(active_scores, float)
    ours_p, theirs_p = np.asarray(candidate_pairs, float), np.asarray(active_pairs, float)

    def score(
        scores: np.ndarray, pairs: np.ndarray, rated: np.ndarray, paired: np.ndarray
    ) -> float:
        auc = auc_of(y[rated], scores[rated]) if len(rated) else math.nan
        accuracy = float(pairs[paired].mean()) if len(paired) else math.nan
        return agreement(auc, accuracy)

    def difference(groups: Indices) -> float:
        rated, paired = groups
        return score(ours_s, ours_p, rated, paired) - score(theirs_s, theirs_p, rated, paired)

    return paired_bootstrap(difference, [len(y), len(ours_p)], rounds=rounds, seed=seed)
