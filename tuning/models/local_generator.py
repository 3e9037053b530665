"""The local generator: templates and retrieved replies, reranked by the reward model. Not an LLM.

For a prompt it builds a pool of candidates from two sources, then keeps the best ``n``:

* templates (:mod:`tuning.models.reply_templates`) filled with the prompt's key phrases;
* the replies of the pair messages most similar to the prompt (TF-IDF cosine), with the
  neighbour's key phrase swapped for the prompt's where the reply quotes it.

It is deterministic for a given prompt and seed, costs about a millisecond, and can only say
things its templates and pairs already say. Approved pairs from feedback (generator SFT) join the
pair pool; preference feedback retrains the reward model saved alongside it.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from tuning.datasets.basedata import ReplyPair, dedupe_pairs
from tuning.errors import DatasetError, ModelError
from tuning.models import artifacts
from tuning.models.reply_templates import TEMPLATES
from tuning.models.reward import RewardModel
from tuning.records import Candidate
from tuning.text import (
    MAX_TEXT_CHARS,
    STOPWORDS,
    content_words,
    key_phrases,
    normalize,
    tokens,
)

KIND = "local-generator"
PAIRS_FILE = "generator.json"
REWARD_FILE = "reward.json"
MIN_SIMILARITY = 0.1  # below this a neighbour's reply is about something else
ADAPT_SIMILARITY = 0.3  # swap key phrases only into replies of close neighbours


class LocalGenerator:
    """Candidate sarcastic replies from templates and nearest pairs; see the module docstring."""

    def __init__(
        self,
        pairs: Sequence[ReplyPair],
        *,
        version: str,
        reward: RewardModel | None = None,
        templates: Sequence[str] = TEMPLATES,
        seed: int = 0,
    ) -> None:
        self.pairs = dedupe_pairs(pairs)
        if not self.pairs:
            raise DatasetError("the local generator needs at least one (message, reply) pair")
        self.templates = tuple(templates)
        self.reward = reward or RewardModel()
        self.seed = seed
        self._version = version
        self._vectorizer = TfidfVectorizer(analyzer=_terms, sublinear_tf=True)
        try:
            self._matrix = self._vectorizer.fit_transform([p.message for p in self.pairs])
        except ValueError:  # every message was stopwords only: retrieval has nothing to go on
            self._matrix = None

    @property
    def version(self) -> str:
        """The registry version this generator serves."""
        return self._version

    def with_pairs(self, pairs: Sequence[ReplyPair], *, version: str) -> LocalGenerator:
        """Return a new generator whose pair pool also holds ``pairs`` (generator SFT)."""
        return LocalGenerator(
            [*self.pairs, *pairs],
            version=version,
            reward=self.reward,
            templates=self.templates,
            seed=self.seed,
        )

    def with_reward(self, reward: RewardModel, *, version: str) -> LocalGenerator:
        """Return a new generator that ranks with ``reward`` (preference tuning)."""
        return LocalGenerator(
            self.pairs, version=version, reward=reward, templates=self.templates, seed=self.seed
        )

    def neighbours(self, prompt: str, *, k: int) -> list[tuple[ReplyPair, float]]:
        """Return up to ``k`` pairs whose message is most similar to ``prompt``, with similarity."""
        if self._matrix is None:
            return []
        sims = (self._matrix @ self._vectorizer.transform([prompt]).T).toarray().ravel()
        order = np.argsort(-sims, kind="stable")[:k]
        return [(self.pairs[i], float(sims[i])) for i in order if sims[i] >= MIN_SIMILARITY]

    def pool(self, prompt: str, *, size: int) -> list[str]:
        """Return up to ``size`` distinct candidate texts for ``prompt``, deterministically."""
        prompt = prompt[:MAX_TEXT_CHARS]
        rng = random.Random(f"{self.seed}:{normalize(prompt)}")
        phrases = key_phrases(prompt, determiners=True) or ["this"]
        found: dict[str, str] = {}
        for pair, similarity in self.neighbours(prompt, k=max(1, size // 2)):
            reply = adapt_reply(pair, prompt) if similarity >= ADAPT_SIMILARITY else pair.reply
            text = " ".join(reply.split())
            found.setdefault(normalize(text), text)
        templates = list(self.templates)
        rng.shuffle(templates)
        for i, template in enumerate(templates):
            if len(found) >= size:
                break
            text = fill_template(template, phrases[i % len(phrases)])
            found.setdefault(normalize(text), text)
        return list(found.values())[:size]

    def candidates(self, prompt: str, *, n: int) -> list[Candidate]:
        """Return ``n`` candidates, best first by the reward model (blocking)."""
        texts = self.pool(prompt, size=max(3 * n, 12))
        scores = self.reward.score(prompt, texts)
        ranked = sorted(zip(texts, scores, strict=True), key=lambda item: -item[1])
        return [Candidate(text=text, score=score) for text, score in ranked[:n]]

    async def generate(self, prompt: str, *, n: int) -> list[Candidate]:
        """Return ``n`` candidate replies, best first, computed off the event loop."""
        return await asyncio.to_thread(self.candidates, prompt, n=n)

    def save(self, directory: Path, *, fingerprint: str, metrics: dict[str, float]) -> None:
        """Write the pair pool, templates, reward weights and sidecar into ``directory``."""
        artifacts.write_json(
            directory / PAIRS_FILE,
            {
                "pairs": [[p.message, p.reply] for p in self.pairs],
                "templates": list(self.templates),
                "seed": self.seed,
            },
        )
        artifacts.write_json(directory / REWARD_FILE, self.reward.to_dict())
        artifacts.write_meta(
            directory, version=self._version, kind=KIND, fingerprint=fingerprint, metrics=metrics
        )

    @classmethod
    def load(cls, directory: Path) -> LocalGenerator:
        """Load a generator saved by :meth:`save`; raise ModelError naming a bad file."""
        meta = artifacts.read_meta(directory, kind=KIND)
        data = artifacts.read_json(directory / PAIRS_FILE)
        try:
            pairs = [ReplyPair(str(m), str(r)) for m, r in data["pairs"]]
            templates = [str(t) for t in data["templates"]]
            seed = int(data.get("seed", 0))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{directory / PAIRS_FILE}: unreadable model file ({exc})") from exc
        try:
            reward = RewardModel.from_dict(artifacts.read_json(directory / REWARD_FILE))
        except ValueError as exc:
            raise ModelError(f"{directory / REWARD_FILE}: unreadable model file ({exc})") from exc
        try:
            return cls(
                pairs, version=str(meta["version"]), reward=reward, templates=templates, seed=seed
            )
        except DatasetError as exc:
            raise ModelError(f"{directory / PAIRS_FILE}: {exc}") from exc


def _terms(text: str) -> list[str]:
    words = [word for word in tokens(text) if word not in STOPWORDS]
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


def fill_template(template: str, phrase: str) -> str:
    """Return ``template`` with ``{phrase}`` / ``{Phrase}`` replaced by the key phrase."""
    return template.replace("{phrase}", phrase).replace("{Phrase}", phrase[:1].upper() + phrase[1:])


def adapt_reply(pair: ReplyPair, prompt: str) -> str:
    """Return the pair's reply with a key phrase of its message swapped for one of ``prompt``'s.

    Phrases the prompt already shares with the neighbour are left alone: they still fit.
    """
    shared = content_words(prompt)
    new = [p for p in key_phrases(prompt) if not content_words(p) & content_words(pair.reply)]
    if not new:
        return pair.reply
    for old in key_phrases(pair.message):
        pattern = re.compile(rf"\b{re.escape(old)}\b", re.IGNORECASE)
        if not content_words(old) & shared and pattern.search(pair.reply):
            return pattern.sub(lambda _: new[0], pair.reply, count=1)
    return pair.reply
