"""Compare a candidate model with the active one on the same validation split.

Classifier: F1/precision/recall on the sarcastic class, accuracy and ROC AUC over all the
validation examples, the same for both models: none has seen them (models built from base
data keep to its train split, see :mod:`tuning.models.builders`). Generator: each
model's best reply to every validation prompt, judged by the *active* stack (the active
classifier for the sarcasm rate, the active generator's reward model for the win rate), so a
candidate must win by the standards already in production; for preference jobs also the share
of held-out human preferences each model's reward agrees with.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tuning.config import Settings
from tuning.datasets.formats import preference_triple, read_jsonl, sft_pair
from tuning.evaluation.keys import PREFERENCE_ACCURACY, PRIMARY_METRIC, QUALITY
from tuning.evaluation.metrics import classifier_metrics, generator_metrics, quality, win_rate
from tuning.models.base import Classifier, Generator
from tuning.models.loader import load_classifier, load_generator
from tuning.models.local_generator import LocalGenerator
from tuning.models.reward import RewardModel
from tuning.prompts import LABEL_WORDS
from tuning.records import Method, ModelVersion, Task
from tuning.store.base import Store
from tuning.text import relevance

MAX_PROMPTS = 200  # generator evaluation calls the model once per prompt; keep it bounded
CONCURRENCY = 8  # prompts in flight at once


@dataclass(frozen=True)
class Comparison:
    """Metrics of the candidate and of the active model (None when nothing is active)."""

    key: str
    candidate: dict[str, float]
    active: dict[str, float] | None


class Evaluator(Protocol):
    """Measure a candidate against the active model of its task."""

    async def compare(
        self,
        *,
        task: Task,
        method: Method,
        candidate: ModelVersion,
        active: ModelVersion | None,
        validation: Path,
    ) -> Comparison:
        """Return both models' metrics on the validation file."""
        ...


class ModelEvaluator:
    """The evaluator that loads real models (local or Vertex) through the model loader."""

    def __init__(self, *, settings: Settings, store: Store, max_prompts: int = MAX_PROMPTS) -> None:
        self._settings = settings
        self._store = store
        self._max_prompts = max_prompts

    async def compare(
        self,
        *,
        task: Task,
        method: Method,
        candidate: ModelVersion,
        active: ModelVersion | None,
        validation: Path,
    ) -> Comparison:
        """Return both models' metrics on the validation file."""
        lines = await asyncio.to_thread(read_jsonl, validation, method=method)
        key = PRIMARY_METRIC[task]
        if task == "classifier":
            examples = [sft_pair(line) for line in lines]
            texts = [text for text, _ in examples]
            labels = [int(target == LABEL_WORDS["sarcastic"]) for _, target in examples]
            ours = await self._classifier_metrics(candidate, texts, labels)
            theirs = await self._classifier_metrics(active, texts, labels) if active else None
            return Comparison(key=key, candidate=ours, active=theirs)
        if method == "preference":
            triples = [preference_triple(line) for line in lines]
            prompts = list(dict.fromkeys(p for p, _, _ in triples))
        else:
            triples = []
            prompts = list(dict.fromkeys(prompt for prompt, _ in map(sft_pair, lines)))
        return await self._compare_generators(
            key, candidate, active, prompts[: self._max_prompts], triples
        )

    async def _classifier_metrics(
        self, model: ModelVersion, texts: list[str], labels: list[int]
    ) -> dict[str, float]:
        classifier = await asyncio.to_thread(load_classifier, model, self._settings)
        predictions = await classifier.classify(texts)
        return classifier_metrics(labels, [p.probability for p in predictions])

    async def _compare_generators(
        self,
        key: str,
        candidate: ModelVersion,
        active: ModelVersion | None,
        prompts: list[str],
        triples: list[tuple[str, str, str]],
    ) -> Comparison:
        ours_gen = await asyncio.to_thread(load_generator, candidate, self._settings)
        theirs_gen = (
            await asyncio.to_thread(load_generator, active, self._settings) if active else None
        )
        judge_model = await self._store.active_model(task="classifier")
        judge = (
            await asyncio.to_thread(load_classifier, judge_model, self._settings)
            if judge_model
            else None
        )
        reward = theirs_gen.reward if isinstance(theirs_gen, LocalGenerator) else RewardModel()
        ours_replies = await _best_replies(ours_gen, prompts)
        ours_sarcasm = await _sarcasm(judge, ours_replies)
        ours_scores = _scores(reward, prompts, ours_replies, ours_sarcasm)
        theirs_replies: list[str] = []
        theirs_scores = ours_scores
        if theirs_gen is not None:
            theirs_replies = await _best_replies(theirs_gen, prompts)
            theirs_scores = _scores(
                reward, prompts, theirs_replies, await _sarcasm(judge, theirs_replies)
            )
        wins = win_rate(ours_scores, theirs_scores)
        ours = generator_metrics(
            sarcasm=ours_sarcasm,
            relevance=[relevance(p, r) for p, r in zip(prompts, ours_replies, strict=True)],
            replies=ours_replies,
            wins=wins,
        )
        theirs = None
        if theirs_gen is not None:
            theirs = generator_metrics(
                sarcasm=await _sarcasm(judge, theirs_replies),
                relevance=[relevance(p, r) for p, r in zip(prompts, theirs_replies, strict=True)],
                replies=theirs_replies,
                wins=1.0 - wins,
            )
        if triples:
            _add_preference_accuracy(ours, ours_gen, triples)
            if theirs is not None and theirs_gen is not None:
                _add_preference_accuracy(theirs, theirs_gen, triples)
        return Comparison(key=key, candidate=ours, active=theirs)


async def _best_replies(generator: Generator, prompts: Sequence[str]) -> list[str]:
    """Return each prompt's top reply, a few prompts at a time (a Vertex endpoint is remote)."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def best(prompt: str) -> str:
        async with gate:
            candidates = await generator.generate(prompt, n=1)
        return candidates[0].text if candidates else ""

    return list(await asyncio.gather(*(best(prompt) for prompt in prompts)))


async def _sarcasm(judge: Classifier | None, texts: list[str]) -> list[float]:
    if judge is None or not texts:
        return [0.5] * len(texts)
    return [p.probability for p in await judge.classify(texts)]


def _scores(
    reward: RewardModel, prompts: Sequence[str], replies: Sequence[str], sarcasm: Sequence[float]
) -> list[float]:
    return [
        reward.score(prompt, [reply], sarcasm=[p])[0]
        for prompt, reply, p in zip(prompts, replies, sarcasm, strict=True)
    ]


def _add_preference_accuracy(
    metrics: dict[str, float], generator: Generator, triples: list[tuple[str, str, str]]
) -> None:
    """Add how often the model's reward agrees with held-out human preferences, into quality."""
    if not isinstance(generator, LocalGenerator):
        return
    metrics[PREFERENCE_ACCURACY] = generator.reward.win_rate(triples)
    metrics[QUALITY] = quality(metrics)
