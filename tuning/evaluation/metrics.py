"""Pure evaluation metrics: numbers in, numbers out (the promotion rule is in ``decision``).

>>> m = classifier_metrics([1, 1, 0, 0], [0.9, 0.4, 0.2, 0.6])
>>> (m["precision"], m["recall"], m["f1"], m["accuracy"], m["roc_auc"])
(0.5, 0.5, 0.5, 0.5, 0.75)
>>> distinct_n(["oh great", "oh great again"], n=2)
0.6666666666666666
>>> win_rate([2.0, 1.0, 0.5], [1.0, 1.0, 3.0])
0.5
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from tuning.evaluation.keys import (
    ACCURACY,
    COUNT,
    DISTINCT_2,
    F1,
    PRECISION,
    QUALITY,
    QUALITY_PARTS,
    RECALL,
    RELEVANCE,
    REWARD_WIN_RATE,
    ROC_AUC,
    SARCASM_RATE,
    finite,
)


def classifier_metrics(
    labels: Sequence[int],
    probabilities: Sequence[float],
    *,
    threshold: float | Sequence[float] = 0.5,
) -> dict[str, float]:
    """Return F1, precision and recall on the sarcastic class (1), accuracy and ROC AUC.

    A text is flagged when its probability is at least ``threshold``: one for every text, or
    one per text (each message's channel threshold).
    """
    if len(labels) != len(probabilities):
        raise ValueError("labels and probabilities differ in length")
    predicted = flags(probabilities, threshold)
    tp = sum(1 for y, p in zip(labels, predicted, strict=True) if y == 1 and p == 1)
    fp = sum(1 for y, p in zip(labels, predicted, strict=True) if y == 0 and p == 1)
    fn = sum(1 for y, p in zip(labels, predicted, strict=True) if y == 1 and p == 0)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    correct = sum(1 for y, p in zip(labels, predicted, strict=True) if y == p)
    return {
        F1: f1,
        PRECISION: precision,
        RECALL: recall,
        ACCURACY: correct / len(labels) if labels else 0.0,
        ROC_AUC: roc_auc(labels, probabilities),
        COUNT: float(len(labels)),
    }


def flags(probabilities: Sequence[float], threshold: float | Sequence[float]) -> list[int]:
    """Return 1 for each probability at or above its threshold (one for all, or one each)."""
    cuts = [threshold] * len(probabilities) if isinstance(threshold, float | int) else threshold
    if len(cuts) != len(probabilities):
        raise ValueError("one threshold per probability, or one for all")
    return [int(p >= t) for p, t in zip(probabilities, cuts, strict=True)]


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Return the ROC AUC (ties count half), or NaN when only one class is present."""
    ranked = sorted(zip(scores, labels, strict=True))
    positives = sum(1 for y in labels if y == 1)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return math.nan
    rank_sum, i = 0.0, 0
    while i < len(ranked):  # average ranks over ties (Mann–Whitney U)
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        average = (i + j + 1) / 2
        rank_sum += average * sum(1 for _, y in ranked[i:j] if y == 1)
        i = j
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def distinct_n(texts: Sequence[str], *, n: int = 2) -> float:
    """Return unique word n-grams over all word n-grams across ``texts`` (0 when there are none)."""
    grams = [
        tuple(words[i : i + n])
        for words in (text.lower().split() for text in texts)
        for i in range(len(words) - n + 1)
    ]
    return len(set(grams)) / len(grams) if grams else 0.0


def win_rate(candidate: Sequence[float], active: Sequence[float]) -> float:
    """Return how often the candidate scores higher, ties counting half (NaN when empty)."""
    if len(candidate) != len(active):
        raise ValueError("score lists differ in length")
    if not candidate:
        return math.nan
    wins = sum(
        1.0 if c > a else 0.5 if c == a else 0.0 for c, a in zip(candidate, active, strict=True)
    )
    return wins / len(candidate)


def mean(values: Sequence[float]) -> float:
    """Return the arithmetic mean, or NaN for no values."""
    return sum(values) / len(values) if values else math.nan


def generator_metrics(
    *, sarcasm: Sequence[float], relevance: Sequence[float], replies: Sequence[str], wins: float
) -> dict[str, float]:
    """Return sarcasm rate, relevance, distinct-2, reward win rate and their mean, ``quality``."""
    metrics = {
        SARCASM_RATE: mean([float(p >= 0.5) for p in sarcasm]),
        RELEVANCE: mean(relevance),
        DISTINCT_2: distinct_n(replies, n=2),
        REWARD_WIN_RATE: wins,
    }
    metrics[QUALITY] = quality(metrics)
    metrics[COUNT] = float(len(replies))
    return metrics


def quality(metrics: Mapping[str, float]) -> float:
    """Return the mean of the quality parts in ``metrics`` that could be measured (NaN if none).

    >>> quality({"sarcasm_rate": 0.5, "relevance": float("nan"), "distinct_2": 1.0, "n": 9.0})
    0.75
    """
    return mean(list(finite({k: v for k, v in metrics.items() if k in QUALITY_PARTS}).values()))
