"""Metric keys: the name every metric is stored under, and the ones that decide promotion.

Every other module (reports, chart, CLI, Slack views, tests) imports these names, so the number
a chart or a status line shows is the number :func:`~tuning.evaluation.decision.decide` used.

>>> from tuning.records import ModelVersion
>>> model = ModelVersion(task="generator", version="g1", backend="local", artifact="/tmp/g1",
...                      metrics={"n_pairs": 40.0, QUALITY: 0.61})
>>> primary_metric(model)
('quality', 0.61)
>>> finite({"f1": 0.8, "roc_auc": float("nan"), "note": "x"})
{'f1': 0.8}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from tuning.records import ModelVersion, Task

# Classifier metrics, on the sarcastic class where that matters.
F1 = "f1"
PRECISION = "precision"
RECALL = "recall"
ACCURACY = "accuracy"
ROC_AUC = "roc_auc"
# ...at the channel's flag threshold on held-out channel labels, and on the base rows.
CHANNEL_F1 = "channel_f1"
CHANNEL_PRECISION = "channel_precision"
CHANNEL_COUNT = "n_channel"  # held-out channel labels the two above are over
BASE_F1 = "base_f1"
BASE_PRECISION = "base_precision"
FLAG_RATE_PREFIX = "flag_rate:"  # + channel id: share of its held-out messages flagged
# Generator metrics.
SARCASM_RATE = "sarcasm_rate"
RELEVANCE = "relevance"
DISTINCT_2 = "distinct_2"
REWARD_WIN_RATE = "reward_win_rate"
PREFERENCE_ACCURACY = "preference_accuracy"  # share of held-out human pairs ranked right
REWARD_AUC = "reward_auc"  # ROC AUC of the reward on held-out 👍 vs 👎 replies
HUMAN_AGREEMENT = "human_agreement"  # mean of REWARD_AUC and PREFERENCE_ACCURACY measured
TOP_LIKED_SHARE = "top_liked_share"  # held-out rated prompts whose top reply was 👍'd
HELD_OUT_RATINGS = "n_heldout_ratings"
HELD_OUT_PAIRS = "n_heldout_pairs"
QUALITY = "quality"  # the mean of QUALITY_PARTS that could be measured
QUALITY_PARTS = (
    SARCASM_RATE,
    RELEVANCE,
    DISTINCT_2,
    REWARD_WIN_RATE,
    PREFERENCE_ACCURACY,
    REWARD_AUC,
)
COUNT = "n"  # how many validation examples (or prompts) the metrics are over
# Both tasks: how much human feedback (train split) the model learnt from.
HUMAN_FEEDBACK = "n_feedback"

# The metric each task is judged, charted and shown by; higher is better for both.
PRIMARY_METRIC: dict[Task, str] = {"classifier": F1, "generator": QUALITY}
# The paired statistic promotion is decided on (:func:`~tuning.evaluation.decision.decide`):
# per validation item, so its uncertainty can be bootstrapped. Both are measured on held-out
# human feedback, not on base data nor a score the active stack gives: for the classifier F1 on
# held-out channel labels at the channel's threshold, for the generator agreement with held-out
# ratings and pairs.
DECISION_METRIC: dict[Task, str] = {"classifier": CHANNEL_F1, "generator": HUMAN_AGREEMENT}


def flag_rate_key(channel: str) -> str:
    """Return the metric key of one channel's flag rate."""
    return f"{FLAG_RATE_PREFIX}{channel}"


def finite(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Return the numeric, finite metrics: NaN means "not measured" (and the store refuses it)."""
    return {
        key: float(value)
        for key, value in metrics.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    }


def primary_metric(model: ModelVersion) -> tuple[str, float] | None:
    """Return the (name, value) a model is judged by, or None when it has not been measured."""
    name = PRIMARY_METRIC[model.task]
    value = finite(model.metrics).get(name)
    return None if value is None else (name, value)
