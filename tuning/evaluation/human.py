"""How well a generator's ranking agrees with held-out human feedback (pure).

A model ranks by its reward (:func:`tuning.models.ranking.reward_of`), fed the classifier's
sarcasm probability of each reply, exactly as serving ranks. On held-out feedback it is judged
by the reward AUC on 👍 vs 👎 replies, the share of held-out pairs whose chosen reply it scores
higher (ties count half), and the share of held-out rated prompts whose top reply is one
people liked.

>>> from tuning.datasets.feedback import HumanPair, RatedReply
>>> from tuning.models.reward import RewardModel
>>> pair = HumanPair("validation", "the build broke", "Oh great, the build broke. Again.", "ok")
>>> pair_outcomes(RewardModel(), [pair], {})
[1.0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tuning.datasets.feedback import HumanPair, RatedReply
from tuning.evaluation.keys import (
    HELD_OUT_PAIRS,
    HELD_OUT_RATINGS,
    HUMAN_AGREEMENT,
    PREFERENCE_ACCURACY,
    REWARD_AUC,
)
from tuning.evaluation.metrics import mean, roc_auc
from tuning.evaluation.paired import agreement
from tuning.models.reward import RewardModel
from tuning.text import normalize

NEUTRAL = 0.5  # the sarcasm of a reply the classifier did not score


def rating_scores(
    reward: RewardModel, ratings: Sequence[RatedReply], sarcasm: Mapping[str, float]
) -> list[float]:
    """Return the reward of each rated reply to its prompt."""
    return [reward.score(r.prompt, [r.reply], [sarcasm.get(r.reply, NEUTRAL)])[0] for r in ratings]


def pair_outcomes(
    reward: RewardModel, pairs: Sequence[HumanPair], sarcasm: Mapping[str, float]
) -> list[float]:
    """Return 1 where the reward prefers the chosen reply, 0.5 for a tie, else 0."""
    outcomes = []
    for pair in pairs:
        probs = [sarcasm.get(pair.chosen, NEUTRAL), sarcasm.get(pair.rejected, NEUTRAL)]
        chosen, rejected = reward.score(pair.prompt, [pair.chosen, pair.rejected], probs)
        outcomes.append(1.0 if chosen > rejected else 0.5 if chosen == rejected else 0.0)
    return outcomes


def top_liked_share(tops: Mapping[str, str], ratings: Sequence[RatedReply]) -> float:
    """Return the share of rated prompts in ``tops`` (prompt -> top reply) whose top was liked.

    >>> rows = [RatedReply("validation", "p", "Nice.", True),
    ...         RatedReply("validation", "q", "x", False)]
    >>> top_liked_share({"p": "nice.", "q": "y"}, rows)
    0.5
    """
    liked: dict[str, set[str]] = {}
    for row in ratings:
        group = liked.setdefault(normalize(row.prompt), set())
        if row.liked:
            group.add(normalize(row.reply))
    rated = [(prompt, reply) for prompt, reply in tops.items() if normalize(prompt) in liked]
    return mean([float(normalize(reply) in liked[normalize(p)]) for p, reply in rated])


def human_metrics(
    ratings: Sequence[RatedReply], scores: Sequence[float], outcomes: Sequence[float]
) -> dict[str, float]:
    """Return the reward AUC, pair accuracy, their agreement, and the held-out counts."""
    auc = roc_auc([int(r.liked) for r in ratings], scores) if ratings else float("nan")
    accuracy = mean(outcomes)
    return {
        REWARD_AUC: auc,
        PREFERENCE_ACCURACY: accuracy,
        HUMAN_AGREEMENT: agreement(auc, accuracy),
        HELD_OUT_RATINGS: float(len(ratings)),
        HELD_OUT_PAIRS: float(len(outcomes)),
    }
