"""Learning-curve arithmetic for ``bench_learning``: paired differences, bootstrap, pairs.

Pure: lists in, numbers out. Every comparison is paired (the same held-out items measured at
the start and now), so the noise of which items happen to be held out cancels.

>>> d = paired_share([True, False, False, False], [True, True, True, False])
>>> (d.diff, round(d.se, 3))
(0.5, 0.289)
>>> d.worse_beyond_noise
False
>>> count_pairs({"is the build green?": [("Always.", -1), ("Define green.", 1), ("Always.", -1)]})
1
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

Z95 = 1.96


@dataclass(frozen=True)
class PairedDiff:
    """``now - start`` on the same items, with its standard error and a 95% interval."""

    diff: float
    se: float
    low: float
    high: float

    @property
    def beyond_noise(self) -> bool:
        """Return whether the interval excludes zero on the better side."""
        return self.low > 0

    @property
    def worse_beyond_noise(self) -> bool:
        """Return whether the interval excludes zero on the worse side."""
        return self.high < 0


def paired_share(start: Sequence[bool], now: Sequence[bool]) -> PairedDiff:
    """Return the change in the share of True over the same items, with its paired SE."""
    if len(start) != len(now) or not start:
        raise ValueError("need the same, non-empty, items at the start and now")
    diffs = [int(b) - int(a) for a, b in zip(start, now, strict=True)]
    mean = sum(diffs) / len(diffs)
    var = sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1) if len(diffs) > 1 else 0.0
    se = math.sqrt(var / len(diffs))
    return PairedDiff(mean, se, mean - Z95 * se, mean + Z95 * se)


Metric = Callable[[Sequence[int], Sequence[float]], float]


def paired_bootstrap(
    labels: Sequence[int],
    start: Sequence[float],
    now: Sequence[float],
    metric: Metric,
    *,
    rounds: int = 300,
    seed: int = 0,
) -> PairedDiff:
    """Return ``metric(now) - metric(start)`` with a paired bootstrap SE and percentile interval.

    Each round resamples the same item indices for both, so the SE is that of the difference.
    Rounds where the metric is undefined (NaN, e.g. one class only) are dropped.
    """
    if not len(labels) == len(start) == len(now) or not labels:
        raise ValueError("need the same, non-empty, items at the start and now")
    rng = random.Random(seed)
    n = len(labels)
    diffs: list[float] = []
    for _ in range(rounds):
        idx = [rng.randrange(n) for _ in range(n)]
        ys = [labels[i] for i in idx]
        d = metric(ys, [now[i] for i in idx]) - metric(ys, [start[i] for i in idx])
        if not math.isnan(d):
            diffs.append(d)
    point = metric(labels, now) - metric(labels, start)
    if len(diffs) < 2:
        return PairedDiff(point, math.nan, math.nan, math.nan)
    diffs.sort()
    mean = sum(diffs) / len(diffs)
    se = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1))
    low = diffs[int(0.025 * (len(diffs) - 1))]
    high = diffs[math.ceil(0.975 * (len(diffs) - 1))]
    return PairedDiff(point, se, low, high)


def f1_at(labels: Sequence[int], scores: Sequence[float], threshold: float) -> float:
    """Return F1 on the positive class when ``score >= threshold`` predicts it (0 if none).

    >>> f1_at([1, 1, 0, 0], [0.9, 0.4, 0.2, 0.6], 0.5)
    0.5
    """
    tp = fp = fn = 0
    for y, s in zip(labels, scores, strict=True):
        hit = s >= threshold
        tp += hit and y == 1
        fp += hit and y != 1
        fn += (not hit) and y == 1
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def count_pairs(rated: Mapping[str, Sequence[tuple[str, int]]]) -> int:
    """Return how many preference pairs people's ratings imply, by the bot's pair rule.

    ``rated`` maps a prompt to the (reply text, rating) of each rated reply to it. The same
    text counts once with its ratings summed; two texts whose sums differ make one pair.
    """
    total = 0
    for replies in rated.values():
        net: dict[str, int] = {}
        for text, rating in replies:
            net[text] = net.get(text, 0) + rating
        total += sum(1 for a, b in combinations(net.values(), 2) if a != b)
    return total
