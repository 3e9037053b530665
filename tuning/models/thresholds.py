"""Decision thresholds: the F1-best threshold a classifier stores, and per-channel flag rates.

>>> best_threshold([1, 1, 0, 0, 1, 0], [0.9, 0.6, 0.55, 0.2, 0.4, 0.1])
0.4
>>> flag_rates({"C1": [0.9, 0.5, 0.2, 0.85], "C2": []}, {"C1": 0.8})
{'C1': 0.5, 'C2': nan}
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

DEFAULT_FLAG_THRESHOLD = 0.8  # a channel's threshold before anyone sets one (ChannelSettings)


def best_threshold(labels: Sequence[int], probabilities: Sequence[float]) -> float:
    """Return the threshold t maximising F1 of the sarcastic class for "sarcastic if p >= t".

    Candidates are the probabilities themselves; ties go to the higher threshold (fewer flags).
    With no positive label there is nothing to find: 0.5.
    """
    y = np.asarray(labels, dtype=int)
    p = np.asarray(probabilities, dtype=float)
    if len(y) != len(p):
        raise ValueError(f"{len(y)} labels but {len(p)} probabilities")
    positives = int(y.sum())
    if positives == 0:
        return 0.5
    order = np.argsort(-p, kind="stable")
    p_sorted, y_sorted = p[order], y[order]
    true_pos = np.cumsum(y_sorted)
    flagged = np.arange(1, len(p) + 1)
    last = np.r_[p_sorted[1:] != p_sorted[:-1], True]  # flagging p >= t takes every tie at t
    f1 = np.where(last, 2 * true_pos / (flagged + positives), -1.0)
    # Not rounded: a rounded-up threshold would stop flagging the very row it was chosen at.
    return float(p_sorted[int(np.argmax(f1))])


def flag_rates(
    probabilities_by_channel: Mapping[str, Sequence[float]],
    thresholds_by_channel: Mapping[str, float],
    *,
    default: float = DEFAULT_FLAG_THRESHOLD,
) -> dict[str, float]:
    """Return, per channel, the share of its messages flagged at its threshold (nan: none).

    A channel without a threshold of its own flags at ``default``.
    """
    rates = {}
    for channel, probabilities in probabilities_by_channel.items():
        threshold = thresholds_by_channel.get(channel, default)
        count = len(probabilities)
        rates[channel] = sum(p >= threshold for p in probabilities) / count if count else math.nan
    return rates
