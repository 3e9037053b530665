"""The reward model: a pairwise Bradley–Terry logistic model over candidate reply features.

P(a preferred to b) = sigmoid(w · (f(a) - f(b))). Untrained, ``w`` is a prior that favours
replies which mention the prompt and read as sarcastic. Training fits ``w`` on
(prompt, preferred, dispreferred) triples by gradient descent on the log loss with an L2 pull
towards that prior, so a handful of preferences nudge the ranking instead of overturning it.

>>> model = RewardModel()
>>> a, b = model.score("the build is broken", ["Oh great, the build is broken. Again.", "ok"])
>>> a > b
True
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from tuning.text import content_words, key_phrases, normalize, relevance, tokens

SarcasmFn = Callable[[Sequence[str]], Sequence[float]]
Preference = tuple[str, str, str]  # (prompt, preferred reply, dispreferred reply)

FEATURES = (
    "relevance",  # share of the prompt's content words the reply mentions
    "phrase_overlap",  # share of the prompt's key phrases quoted in the reply
    "sarcasm",  # the classifier's probability that the reply is sarcastic
    "length",  # words, capped at 40, scaled to 0-1
    "too_long",  # over 30 words: Slack replies should be short
    "question",  # asks a (rhetorical) question
    "exclaim",  # exclamation marks, capped at 3, scaled to 0-1
    "ellipsis",  # trailing off...
    "emoji",  # a unicode emoji or a :shortcode:
    "markers",  # classic sarcasm markers (oh, great, sure, wow, ...), capped at 3, scaled
    "echo",  # repeats the whole prompt back
)
PRIOR = {"relevance": 2.0, "phrase_overlap": 1.0, "sarcasm": 2.0, "too_long": -1.0, "echo": -1.5}
_MARKERS = frozenset(
    str.split(
        "oh wow great sure totally clearly obviously love fantastic wonderful brilliant shocked "
        "thrilled perfect amazing definitely absolutely riveted groundbreaking"
    )
)
_EMOJI = re.compile(r":[a-z0-9_+\-]+:|[\U0001F300-\U0001FAFF\u2600-\u27BF]")


def candidate_features(prompt: str, reply: str, *, sarcasm: float = 0.5) -> list[float]:
    """Return the feature vector of ``reply`` to ``prompt``, in :data:`FEATURES` order."""
    words = tokens(reply)
    phrases = key_phrases(prompt)
    said = normalize(reply)
    prompt_norm = normalize(prompt)
    return [
        relevance(prompt, reply),
        sum(phrase in said for phrase in phrases) / len(phrases) if phrases else 0.0,
        float(sarcasm),
        min(len(words), 40) / 40,
        float(len(words) > 30),
        float("?" in reply),
        min(reply.count("!"), 3) / 3,
        float("..." in reply or "…" in reply),
        float(bool(_EMOJI.search(reply))),
        min(sum(word in _MARKERS for word in words), 3) / 3,
        float(bool(content_words(prompt)) and len(prompt_norm) > 3 and prompt_norm in said),
    ]


class RewardModel:
    """Score candidate replies; higher is better. Weights are plain data (JSON-serialisable)."""

    def __init__(self, weights: Mapping[str, float] | None = None, *, n_pairs: int = 0) -> None:
        merged = dict.fromkeys(FEATURES, 0.0) | dict(PRIOR if weights is None else weights)
        self.weights = {name: float(merged[name]) for name in FEATURES}
        self.n_pairs = n_pairs

    def _vector(self) -> np.ndarray:
        return np.array([self.weights[name] for name in FEATURES])

    def score(
        self, prompt: str, texts: Sequence[str], *, sarcasm: Sequence[float] | None = None
    ) -> list[float]:
        """Return one score per text; ``sarcasm`` gives the classifier's probabilities if known."""
        probs = list(sarcasm) if sarcasm is not None else [0.5] * len(texts)
        if not texts:
            return []
        rows = np.array(
            [candidate_features(prompt, t, sarcasm=p) for t, p in zip(texts, probs, strict=True)]
        )
        return [float(x) for x in rows @ self._vector()]

    def fit(
        self,
        pairs: Sequence[Preference],
        *,
        sarcasm: SarcasmFn | None = None,
        strength: float = 1.0,
        steps: int = 500,
    ) -> RewardModel:
        """Return a new model fitted to preference triples, pulled to the prior by ``strength``."""
        if not pairs:
            return RewardModel(self.weights, n_pairs=self.n_pairs)
        preferred = [p[1] for p in pairs]
        rejected = [p[2] for p in pairs]
        p_pref = list(sarcasm(preferred)) if sarcasm else [0.5] * len(pairs)
        p_rej = list(sarcasm(rejected)) if sarcasm else [0.5] * len(pairs)
        diffs = np.array(
            [
                np.subtract(
                    candidate_features(prompt, good, sarcasm=pg),
                    candidate_features(prompt, bad, sarcasm=pb),
                )
                for (prompt, good, bad), pg, pb in zip(pairs, p_pref, p_rej, strict=True)
            ]
        )
        prior = np.array([PRIOR.get(name, 0.0) for name in FEATURES])
        w = self._vector().copy()
        lam = strength / len(pairs)
        for _ in range(steps):  # convex problem; plain gradient descent converges fast enough
            margin = np.clip(diffs @ w, -30, 30)
            grad = -(diffs.T @ (1 / (1 + np.exp(margin)))) / len(pairs) + 2 * lam * (w - prior)
            w -= 0.5 * grad
        return RewardModel(dict(zip(FEATURES, w.tolist(), strict=True)), n_pairs=len(pairs))

    def win_rate(self, pairs: Sequence[Preference], *, sarcasm: SarcasmFn | None = None) -> float:
        """Return the share of triples whose preferred reply this model scores higher."""
        if not pairs:
            return math.nan
        wins = 0
        for prompt, good, bad in pairs:
            probs = list(sarcasm([good, bad])) if sarcasm else None
            a, b = self.score(prompt, [good, bad], sarcasm=probs)
            wins += a > b
        return wins / len(pairs)

    def to_dict(self) -> dict[str, object]:
        """Return the model as plain JSON-serialisable data."""
        return {"weights": dict(self.weights), "n_pairs": self.n_pairs}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> RewardModel:
        """Rebuild a model from :meth:`to_dict` output."""
        weights = data.get("weights")
        n_pairs = data.get("n_pairs", 0)
        if not isinstance(weights, dict) or not isinstance(n_pairs, int):
            raise ValueError("reward model data needs 'weights' (object) and 'n_pairs' (int)")
        return cls({str(k): float(v) for k, v in weights.items()}, n_pairs=n_pairs)
