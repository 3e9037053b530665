"""Learn the scorer's reward model from the store's ratings and pairs, and check it (pure).

Every rated bot reply is a rating (net 👍 above zero: liked; below: disliked) and every two
replies to one prompt rated differently are a pair (``build_preference_pairs``). Both split by
prompt, as datasets do (``text_split``). The served model is fitted on everything; its
agreement with people, :func:`held_out_auc`, is measured on a model fitted to the train split
only and scored on the validation split's ratings: the ROC AUC of reward scores against liked.

>>> from tuning.records import Interaction
>>> data = reward_data([Interaction(id="a", team="T", channel="C", ts="1", kind="generate",
...     input_text="build broke", output="Oh great.", model_version="v")], {"a": 1})
>>> [len(d.ratings) for d in data]
[1, 0]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from tuning.datasets.examples import text_split
from tuning.datasets.generator import build_preference_pairs
from tuning.evaluation.metrics import roc_auc
from tuning.models.reward import Preference, Rating, RewardModel, SarcasmFn
from tuning.records import Interaction
from tuning.redaction import redact


@dataclass(frozen=True)
class RewardData:
    """Preference pairs and single ratings a reward model learns from (or is checked on)."""

    pairs: tuple[Preference, ...] = ()
    ratings: tuple[Rating, ...] = ()

    def __add__(self, other: RewardData) -> RewardData:
        return RewardData(self.pairs + other.pairs, self.ratings + other.ratings)


def reward_data(
    interactions: Iterable[Interaction], ratings: Mapping[str, int]
) -> tuple[RewardData, RewardData]:
    """Return the (train, validation) pairs and ratings of the rated bot replies."""
    replies = [i for i in interactions if i.kind == "generate"]
    split: dict[str, tuple[list[Preference], list[Rating]]] = {
        "train": ([], []),
        "validation": ([], []),
    }
    for pair in build_preference_pairs(replies, ratings).items:
        split[text_split(pair.prompt)][0].append((pair.prompt, pair.chosen, pair.rejected))
    for interaction in replies:
        net = ratings.get(interaction.id, 0)
        prompt, reply = redact(interaction.input_text).strip(), redact(interaction.output).strip()
        if net and prompt and reply:
            split[text_split(prompt)][1].append((prompt, reply, net > 0))
    train, validation = (RewardData(tuple(p), tuple(r)) for p, r in split.values())
    return train, validation


def fit_reward(
    base: RewardModel, data: RewardData, *, sarcasm: SarcasmFn | None = None
) -> RewardModel:
    """Return ``base`` fitted to ``data`` (``base`` itself when there is nothing to learn)."""
    return base.fit(list(data.pairs), ratings=list(data.ratings), sarcasm=sarcasm)


def held_out_auc(
    reward: RewardModel, ratings: Sequence[Rating], *, sarcasm: SarcasmFn | None = None
) -> float:
    """Return the ROC AUC of ``reward``'s scores against liked/disliked (NaN with one class)."""
    if not ratings:
        return math.nan
    texts = [reply for _, reply, _ in ratings]
    probs = list(sarcasm(texts)) if sarcasm else [0.5] * len(texts)
    scores = [
        reward.score(prompt, [reply], [p])[0]
        for (prompt, reply, _), p in zip(ratings, probs, strict=True)
    ]
    return roc_auc([int(liked) for _, _, liked in ratings], scores)


def learn(
    base: RewardModel,
    interactions: Iterable[Interaction],
    ratings: Mapping[str, int],
    *,
    sarcasm: SarcasmFn | None = None,
) -> tuple[RewardModel, float]:
    """Return the reward model fitted on every rating and pair, and its held-out AUC."""
    train, validation = reward_data(interactions, ratings)
    checked = fit_reward(base, train, sarcasm=sarcasm)
    auc = held_out_auc(checked, validation.ratings, sarcasm=sarcasm)
    return fit_reward(base, train + validation, sarcasm=sarcasm), auc
