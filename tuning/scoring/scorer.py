"""Turn the reward model's score of one response into a reward in [-1, 1].

``reward = tanh(score / REWARD_SCALE)``: strictly increasing, so a response the reward model
scores higher always earns a higher reward, and never quite ±1, so Vertex's clipping to [-1, 1]
never flattens two different scores into one. The reward model's scores mostly fall within
±2·REWARD_SCALE, where tanh is far from flat. An empty response earns -1.

>>> squash(0.0), round(squash(2.0), 3), squash(-1e9)
(0.0, 0.762, -1.0)
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

from tuning.models.base import Classifier
from tuning.models.reward import RewardModel
from tuning.scoring.request import RewardRequest

REWARD_SCALE = 2.0
EMPTY_REWARD = -1.0


def squash(score: float) -> float:
    """Return ``score`` mapped into [-1, 1] by tanh (see the module docstring)."""
    return math.tanh(score / REWARD_SCALE)


@dataclass(frozen=True)
class Scorer:
    """The reward model and the classifier whose sarcasm probability is one of its inputs.

    ``classifier`` None gives every response sarcasm 0.5. ``auc`` is the reward model's
    held-out agreement with human ratings, reported on /healthz (NaN when unknown).
    """

    reward: RewardModel
    classifier: Classifier | None = None
    auc: float = math.nan

    async def score(self, request: RewardRequest) -> float:
        """Return the reward of ``request.response`` to ``request.prompt``."""
        if not request.response.strip():
            return EMPTY_REWARD
        sarcasm = None
        if self.classifier is not None:
            (prediction,) = await self.classifier.classify([request.response])
            sarcasm = [prediction.probability]
        (score,) = await asyncio.to_thread(
            self.reward.score, request.prompt, [request.response], sarcasm
        )
        return squash(score)

    @property
    def description(self) -> dict[str, object]:
        """Return what this scorer serves, for /healthz (no text of any user)."""
        return {
            "classifier": self.classifier.version if self.classifier else None,
            "n_pairs": self.reward.n_pairs,
            "n_ratings": self.reward.n_ratings,
            "auc": None if math.isnan(self.auc) else round(self.auc, 4),
        }
