"""The local generator: templates and retrieved replies, reranked by the reward model. Not an LLM.

For a prompt it builds a pool of candidates from two sources, then keeps the best ``n``:

* frames (:mod:`tuning.models.reply_templates`) that suit the prompt's themes, filled with the
  noun phrases it complains about (:mod:`tuning.models.noun_phrases`);
* the replies of the pair messages most similar to the prompt (TF-IDF cosine), with the
  neighbour's key phrase swapped for the prompt's where the reply quotes it.

Filled and swapped candidates that do not read as English (:mod:`tuning.models.readable`) are
dropped. ``exclude`` skips replies already shown, so *Try again* gets the best one not yet seen.
It is deterministic for a given prompt and seed, costs about a millisecond, and can only say
things its frames and pairs already say. Approved pairs from feedback (generator SFT) join the
pair pool; preference feedback retrains the reward model saved alongside it.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from tuning.datasets.basedata import ReplyPair, dedupe_pairs
from tuning.errors import DatasetError, ModelError
from tuning.models import artifacts
from tuning.models.noun_phrases import subjects
from tuning.models.readable import reads_well
from tuning.models.reply_templates import FRAMES, GENERIC, SLOTLESS, Frame, themes_of
from tuning.models.reward import RewardModel, rank
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
RETRIEVED = "retrieved"  # the frame of a candidate that is a neighbour's reply


@dataclass(frozen=True)
class Draft:
    """A candidate text and where it came from: a frame's template, or ``retrieved``."""

    text: str
    frame: str


class LocalGenerator:
    """Candidate sarcastic replies from templates and nearest pairs; see the module docstring."""

    def __init__(
        self,
        pairs: Sequence[ReplyPair],
        *,
        version: str,
        reward: RewardModel | None = None,
        templates: Sequence[Frame | str] = FRAMES,
        seed: int = 0,
    ) -> None:
        self.pairs = dedupe_pairs(pairs)
        if not self.pairs:
            raise DatasetError("the local generator needs at least one (message, reply) pair")
        self.templates = tuple(t if isinstance(t, Frame) else Frame(t) for t in templates)
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

    def drafts(self, prompt: str, *, size: int, exclude: Collection[str] = ()) -> list[Draft]:
        """Return up to ``size`` drafts for ``prompt``, not in ``exclude``, in pool order."""
        prompt = prompt[:MAX_TEXT_CHARS]
        rng = random.Random(f"{self.seed}:{normalize(prompt)}")
        skip = {normalize(text) for text in exclude}
        found: dict[str, Draft] = {}

        def add(text: str, frame: str, *, check: bool) -> None:
            key = normalize(text)
            if key not in skip and key not in found and (not check or reads_well(text)):
                found[key] = Draft(text, frame)

        for pair, similarity in self.neighbours(prompt, k=max(1, size // 2) + len(skip)):
            if (
                similarity >= ADAPT_SIMILARITY
                and (adapted := adapt_reply(pair, prompt)) != pair.reply
            ):
                add(" ".join(adapted.split()), RETRIEVED, check=True)
            else:  # a person wrote it: keep it as written
                add(" ".join(pair.reply.split()), RETRIEVED, check=False)
        themes = themes_of(prompt) | {GENERIC}
        frames = [f for f in self.templates if f.theme in themes]
        rng.shuffle(frames)
        phrases = subjects(prompt) or ["this"]  # "Ah yes, this." still reads
        for i, frame in enumerate(frames):
            if len(found) >= size:
                break
            add(fill_template(frame.text, phrases[i % len(phrases)]), frame.text, check=True)
        for frame in SLOTLESS:  # every framed reply was excluded, or too few fit the prompt
            if len(found) >= size:
                break
            add(frame.text, frame.text, check=False)
        return list(found.values())[:size]

    def pool(self, prompt: str, *, size: int, exclude: Collection[str] = ()) -> list[str]:
        """Return up to ``size`` distinct candidate texts for ``prompt``, deterministically."""
        return [draft.text for draft in self.drafts(prompt, size=size, exclude=exclude)]

    def candidates(self, prompt: str, *, n: int, exclude: Collection[str] = ()) -> list[Candidate]:
        """Return ``n`` candidates not in ``exclude``, best first by the reward model (blocking).

        Fewer than ``n`` only when every reply it can write is excluded.
        """
        texts = self.pool(prompt, size=max(3 * n, 12), exclude=exclude)
        return rank(self.reward, prompt, texts, n=n)

    async def generate(
        self, prompt: str, *, n: int, exclude: Collection[str] = ()
    ) -> list[Candidate]:
        """Return ``n`` candidate replies not in ``exclude``, best first, off the event loop."""
        return await asyncio.to_thread(self.candidates, prompt, n=n, exclude=exclude)

    def save(self, directory: Path, *, fingerprint: str, metrics: dict[str, float]) -> None:
        """Write the pair pool, templates, reward weights and sidecar into ``directory``."""
        artifacts.write_json(
            directory / PAIRS_FILE,
            {
                "pairs": [[p.message, p.reply] for p in self.pairs],
                "templates": [[f.theme, f.text] for f in self.templates],
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
            templates = [_frame(t) for t in data["templates"]]
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


def _frame(saved: object) -> Frame:
    """Return a saved template: ``[theme, text]``, or a plain string (generic, before themes)."""
    if isinstance(saved, str):
        return Frame(saved)
    if isinstance(saved, list) and len(saved) == 2 and all(isinstance(x, str) for x in saved):
        return Frame(saved[1], saved[0])
    raise TypeError(f"not a template: {saved!r}")


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
