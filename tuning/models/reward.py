"""The reward model: a linear score over reply features, learnt from ratings and from pairs.

``score = w · f(prompt, reply)``, with ``f`` from :mod:`tuning.models.reward_features` (named
features plus hashed n-grams). Training minimises, jointly and with L2 regularisation:

* a Bradley–Terry log loss on preference pairs: P(a preferred to b) = sigmoid(w · (f(a) - f(b)));
* a logistic loss on single rated replies (👍 desirable, 👎 undesirable), with an intercept of its
  own and the two classes weighted equally. This is the practical core of KTO (Ethayarajh et
  al., 2024): learn from unpaired desirable and undesirable examples, because most reactions
  are one 👍 or 👎 on one reply.

The L2 term pulls the named weights towards a prior that favours replies which mention the
prompt and read as sarcastic (hashed weights towards 0), so a handful of ratings nudge the
ranking instead of overturning it. The fit is convex and solved by L-BFGS: deterministic.

>>> model = RewardModel()
>>> a, b = model.score("the build is broken", ["Oh great, the build is broken. Again.", "ok"])
>>> a > b
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.special import expit

from tuning.models.reward_features import N_FEATURES, NAMED, feature_rows, named_features
from tuning.records import Candidate

SarcasmFn = Callable[[Sequence[str]], Sequence[float]]
Preference = tuple[str, str, str]  # (prompt, preferred reply, dispreferred reply)
Rating = tuple[str, str, bool]  # (prompt, reply, liked): one 👍 (True) or 👎 (False)

FORMAT = 2  # 1: named weights only (no "format" key); 2: adds hashed weights and ratings
FEATURES = NAMED
PRIOR = {"relevance": 2.0, "phrase_overlap": 1.0, "sarcasm": 2.0, "too_long": -1.0, "echo": -1.5}
_N_NAMED = len(NAMED)


def candidate_features(prompt: str, reply: str, *, sarcasm: float = 0.5) -> list[float]:
    """Return the named feature vector of ``reply`` to ``prompt``, in :data:`FEATURES` order."""
    return named_features(prompt, reply, sarcasm=sarcasm)


class RewardModel:
    """Score candidate replies; higher is better. Weights are plain data (JSON-serialisable)."""

    def __init__(
        self,
        weights: Mapping[str, float] | None = None,
        *,
        n_pairs: int = 0,
        hashed: np.ndarray | None = None,
        n_ratings: int = 0,
    ) -> None:
        merged = dict.fromkeys(FEATURES, 0.0) | dict(PRIOR if weights is None else weights)
        self.weights = {name: float(merged[name]) for name in FEATURES}
        size = N_FEATURES - _N_NAMED
        self._hashed = np.zeros(size) if hashed is None else np.array(hashed, dtype=float)
        if self._hashed.shape != (size,):
            raise ValueError(f"hashed weights need {size} values, got {self._hashed.shape}")
        self.n_pairs = n_pairs
        self.n_ratings = n_ratings

    def _vector(self) -> np.ndarray:
        return np.concatenate([[self.weights[name] for name in FEATURES], self._hashed])

    def score(
        self, prompt: str, texts: Sequence[str], sarcasm: Sequence[float] | None = None
    ) -> list[float]:
        """Return one score per text; ``sarcasm`` gives the classifier's probabilities if known.

        This is the one ranking function: serving, the local generator and evaluation all call it.
        """
        if not texts:
            return []
        probs = list(sarcasm) if sarcasm is not None else [0.5] * len(texts)
        rows = feature_rows([prompt] * len(texts), list(texts), probs)
        return [float(x) for x in rows @ self._vector()]

    def fit(
        self,
        pairs: Sequence[Preference],
        *,
        ratings: Sequence[Rating] = (),
        sarcasm: SarcasmFn | None = None,
        strength: float = 1.0,
        max_iter: int = 500,
    ) -> RewardModel:
        """Return a new model fitted to pairs and unpaired ratings, pulled to the prior.

        ``strength`` is the L2 weight on the distance from the prior (per example, as in
        scikit-learn's ``1 / C``); ``sarcasm`` scores replies with the classifier if given.
        """
        if not pairs and not ratings:
            return self._copy()
        good, bad, rated = _features(pairs, ratings, sarcasm)
        diffs = good - bad
        liked = np.array([1.0 if r[2] else -1.0 for r in ratings])
        # Equal total weight for 👍 and 👎 (KTO's desirable/undesirable balance).
        counts = {sign: max(1, int(np.sum(liked == sign))) for sign in (1.0, -1.0)}
        balance = np.array([len(ratings) / (2 * counts[y]) for y in liked])
        prior = np.concatenate(
            [[PRIOR.get(name, 0.0) for name in FEATURES], np.zeros(N_FEATURES - _N_NAMED)]
        )
        total = len(pairs) + len(ratings)

        def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
            w, bias = theta[:-1], theta[-1]
            value = strength * float(np.sum((w - prior) ** 2))
            grad, grad_bias = 2 * strength * (w - prior), 0.0
            if pairs:
                margin = diffs @ w
                value += float(np.sum(np.logaddexp(0, -margin)))
                grad = grad - diffs.T @ expit(-margin)
            if ratings:
                margin = liked * (rated @ w + bias)
                value += float(np.sum(balance * np.logaddexp(0, -margin)))
                slope = -balance * liked * expit(-margin)
                grad = grad + rated.T @ slope
                grad_bias = float(np.sum(slope))
            return value / total, np.append(grad, grad_bias) / total

        start = np.append(self._vector(), 0.0)
        result = minimize(loss, start, jac=True, method="L-BFGS-B", options={"maxiter": max_iter})
        w = np.round(result.x[:-1], 6)  # what is saved is exactly what scores
        return RewardModel(
            dict(zip(FEATURES, w[:_N_NAMED].tolist(), strict=True)),
            hashed=w[_N_NAMED:],
            n_pairs=len(pairs),
            n_ratings=len(ratings),
        )

    def win_rate(self, pairs: Sequence[Preference], *, sarcasm: SarcasmFn | None = None) -> float:
        """Return the share of triples whose preferred reply this model scores higher."""
        if not pairs:
            return math.nan
        wins = 0
        for prompt, good, bad in pairs:
            probs = list(sarcasm([good, bad])) if sarcasm else None
            a, b = self.score(prompt, [good, bad], probs)
            wins += a > b
        return wins / len(pairs)

    def _copy(self) -> RewardModel:
        return RewardModel(
            self.weights, hashed=self._hashed, n_pairs=self.n_pairs, n_ratings=self.n_ratings
        )

    def to_dict(self) -> dict[str, object]:
        """Return the model as plain JSON-serialisable data (non-zero hashed weights only)."""
        nonzero = np.flatnonzero(self._hashed)
        return {
            "format": FORMAT,
            "weights": dict(self.weights),
            "hashed": {str(int(i)): float(self._hashed[i]) for i in nonzero},
            "n_hashed": len(self._hashed),
            "n_pairs": self.n_pairs,
            "n_ratings": self.n_ratings,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> RewardModel:
        """Rebuild a model from :meth:`to_dict` output (format 1 or 2); raise ValueError."""
        weights = data.get("weights")
        n_pairs = data.get("n_pairs", 0)
        if not isinstance(weights, dict) or not isinstance(n_pairs, int):
            # ValueError, not TypeError: callers turn every malformed file into one ModelError.
            raise ValueError(  # noqa: TRY004
                "reward model data needs 'weights' (object) and 'n_pairs' (int)"
            )
        named = {str(k): float(v) for k, v in weights.items()}
        version = data.get("format", 1)
        if version == 1:  # named weights only: the new named features start at 0
            return cls(named, n_pairs=n_pairs)
        size = N_FEATURES - _N_NAMED
        hashed, n_ratings = data.get("hashed"), data.get("n_ratings", 0)
        if version != FORMAT or data.get("n_hashed") != size:
            raise ValueError(f"reward model format {version!r} with {data.get('n_hashed')} hashed")
        if not isinstance(hashed, dict) or not isinstance(n_ratings, int):
            raise ValueError(  # noqa: TRY004 - as above
                "reward model data needs 'hashed' (object) and 'n_ratings' (int)"
            )
        vector = np.zeros(size)
        for key, value in hashed.items():
            vector[int(key)] = float(value)
        return cls(named, hashed=vector, n_pairs=n_pairs, n_ratings=n_ratings)


def rank(
    reward: RewardModel,
    prompt: str,
    texts: Sequence[str],
    sarcasm: Sequence[float] | None = None,
    *,
    n: int,
) -> list[Candidate]:
    """Return the ``n`` best texts by ``reward.score``, best first (stable among equal scores)."""
    scores = reward.score(prompt, texts, sarcasm)
    ranked = sorted(zip(texts, scores, strict=True), key=lambda item: -item[1])
    return [Candidate(text=text, score=score) for text, score in ranked[:n]]


def _features(
    pairs: Sequence[Preference], ratings: Sequence[Rating], sarcasm: SarcasmFn | None
) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]:
    """Return the feature rows of preferred replies, dispreferred replies and rated replies."""
    texts = [p[1] for p in pairs] + [p[2] for p in pairs] + [r[1] for r in ratings]
    probs = list(sarcasm(texts)) if sarcasm and texts else [0.5] * len(texts)
    prompts = [p[0] for p in pairs] * 2 + [r[0] for r in ratings]
    rows = feature_rows(prompts, texts, probs)
    n = len(pairs)
    return rows[:n], rows[n : 2 * n], rows[2 * n :]
