"""Compare a candidate model with the active one on the same validation split.

**Classifier.** Each model flags at its own stored threshold (``metrics["threshold"]``; 0.5
without one): F1/precision/recall on the sarcastic class, accuracy and ROC AUC over the whole
validation split (base rows and held-out channel labels), the same rows for both models, none
seen in training (models built from base data keep to its train split, see
:mod:`tuning.models.builders`). Besides: F1 and precision on the held-out channel labels at
each message's channel threshold, the same on the base rows, and per channel the share of its
held-out messages each model would flag at that channel's threshold. What decides
(:mod:`tuning.evaluation.decision`) is the paired difference in F1 on the held-out channel labels
at their channel's threshold (``channel_f1``), with its bootstrap interval: what users of a
channel see is its flags, not the model's own threshold on seed chat.

**Generator.** Each model's best reply to every validation prompt (validation lines and held-out
feedback), ranked as serving ranks (:func:`tuning.models.ranking.best_replies`, with the active
classifier's sarcasm scores), judged by the *active* stack (the active classifier for the
sarcasm rate, the active generator's reward for the win rate); and each model's agreement with
held-out human feedback (:mod:`tuning.evaluation.human`), whose paired difference decides.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from tuning.config import Settings
from tuning.datasets.feedback import FILE as FEEDBACK_FILE
from tuning.datasets.feedback import HumanFeedback, HumanPair, read_feedback
from tuning.datasets.formats import preference_triple, read_jsonl, sft_pair
from tuning.evaluation.decision import Evidence, silenced_channels
from tuning.evaluation.human import human_metrics, pair_outcomes, rating_scores, top_liked_share
from tuning.evaluation.keys import (
    BASE_F1,
    BASE_PRECISION,
    CHANNEL_COUNT,
    CHANNEL_F1,
    CHANNEL_PRECISION,
    DECISION_METRIC,
    F1,
    HUMAN_FEEDBACK,
    PRECISION,
    PRIMARY_METRIC,
    QUALITY,
    TOP_LIKED_SHARE,
    finite,
    flag_rate_key,
)
from tuning.evaluation.metrics import (
    classifier_metrics,
    flags,
    generator_metrics,
    quality,
    win_rate,
)
from tuning.evaluation.paired import Interval, agreement_difference, f1_difference
from tuning.models.base import Classifier, Generator
from tuning.models.loader import load_classifier, load_generator
from tuning.models.ranking import best_replies, reward_of
from tuning.models.reward import RewardModel
from tuning.models.thresholds import flag_rates
from tuning.prompts import LABEL_WORDS
from tuning.records import Method, ModelVersion, Task
from tuning.store.base import Store
from tuning.text import normalize, relevance

MAX_PROMPTS = 200  # generator evaluation calls the model once per prompt; keep it bounded
CONCURRENCY = 8  # prompts in flight at once
NO_INTERVAL = Interval(math.nan, math.nan, math.nan, 0)


@dataclass(frozen=True)
class Comparison:
    """Metrics of the candidate and of the active model (None when nothing is active).

    ``key`` is the metric charted and shown; ``decided_by`` the paired statistic whose
    ``interval`` (candidate minus active) decides; ``silenced`` the channels the candidate
    would stop flagging.
    """

    key: str
    candidate: dict[str, float]
    active: dict[str, float] | None
    decided_by: str = ""
    interval: Interval = NO_INTERVAL
    silenced: tuple[str, ...] = field(default_factory=tuple)


def evidence_of(
    task: Task, comparison: Comparison, *, candidate_feedback: int, active: ModelVersion | None
) -> Evidence:
    """Return what the promotion rule decides on, from a comparison and the feedback counts.

    ``candidate_feedback`` is the human feedback the candidate learnt from; the active model's
    is stored with it (``n_feedback``; 0 for a model built from base data).
    """
    metric = comparison.decided_by or comparison.key
    return Evidence(
        task=task,
        metric=metric,
        candidate=comparison.candidate.get(metric, math.nan),
        active=(comparison.active or {}).get(metric, math.nan),
        interval=comparison.interval,
        candidate_feedback=candidate_feedback,
        active_feedback=int(finite(active.metrics).get(HUMAN_FEEDBACK, 0)) if active else 0,
        silenced=comparison.silenced,
    )


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
        """Return both models' metrics on the validation file (and its feedback.jsonl)."""
        ...


@dataclass(frozen=True)
class _Rows:
    """The classifier's validation rows: texts, labels, and the channel of each (or None)."""

    texts: list[str]
    labels: list[int]
    channels: list[str | None]
    thresholds: Mapping[str, float]


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
        """Return both models' metrics on the validation file (and its feedback.jsonl)."""
        lines = await asyncio.to_thread(read_jsonl, validation, method=method)
        held = await asyncio.to_thread(
            read_feedback, validation.with_name(FEEDBACK_FILE), split="validation"
        )
        if task == "classifier":
            return await self._compare_classifiers(candidate, active, lines, held)
        if method == "preference":
            triples = [preference_triple(line) for line in lines]
            prompts = [p for p, _, _ in triples]
            if not held.pairs:  # a dataset exported without feedback.jsonl
                pairs = tuple(HumanPair("validation", *triple) for triple in triples)
                held = HumanFeedback(ratings=held.ratings, pairs=pairs, labels=held.labels)
        else:
            prompts = [prompt for prompt, _ in map(sft_pair, lines)]
        prompts += [r.prompt for r in held.ratings] + [p.prompt for p in held.pairs]
        unique = list({normalize(p): p for p in reversed(prompts)}.values())[::-1]
        return await self._compare_generators(candidate, active, unique[: self._max_prompts], held)

    # -- classifier ----------------------------------------------------------------------------

    async def _compare_classifiers(
        self,
        candidate: ModelVersion,
        active: ModelVersion | None,
        lines: Sequence[dict[str, object]],
        held: HumanFeedback,
    ) -> Comparison:
        examples = [sft_pair(line) for line in lines]
        channel_of = {normalize(label.text): label.channel for label in held.labels}
        channels = [channel_of.get(normalize(text)) for text, _ in examples]
        thresholds = {
            channel: (await self._store.channel_settings(channel=channel)).threshold
            for channel in sorted({c for c in channels if c is not None})
        }
        rows = _Rows(
            texts=[text for text, _ in examples],
            labels=[int(target == LABEL_WORDS["sarcastic"]) for _, target in examples],
            channels=channels,
            thresholds=thresholds,
        )
        ours_p = await self._probabilities(candidate, rows.texts)
        ours = _classifier_report(rows, ours_p, _threshold(candidate))
        if active is None:
            return Comparison(key=PRIMARY_METRIC["classifier"], candidate=ours, active=None)
        theirs_p = await self._probabilities(active, rows.texts)
        theirs = _classifier_report(rows, theirs_p, _threshold(active))
        interval = _channel_f1_difference(rows, ours_p, theirs_p)
        counts = {c: rows.channels.count(c) for c in thresholds}
        silenced = silenced_channels(_rates(ours), _rates(theirs), counts)
        return Comparison(
            key=PRIMARY_METRIC["classifier"],
            candidate=ours,
            active=theirs,
            decided_by=DECISION_METRIC["classifier"],
            interval=interval,
            silenced=silenced,
        )

    async def _probabilities(self, model: ModelVersion, texts: list[str]) -> list[float]:
        classifier = await asyncio.to_thread(load_classifier, model, self._settings)
        return [p.probability for p in await classifier.classify(texts)]

    # -- generator -----------------------------------------------------------------------------

    async def _compare_generators(
        self,
        candidate: ModelVersion,
        active: ModelVersion | None,
        prompts: list[str],
        held: HumanFeedback,
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
        judged = [r.reply for r in held.ratings] + [
            text for p in held.pairs for text in (p.chosen, p.rejected)
        ]
        sarcasm = dict(zip(judged, await _sarcasm(judge, judged), strict=True))
        reward = reward_of(theirs_gen) if theirs_gen is not None else RewardModel()
        ours_replies = await _best_replies(ours_gen, judge, prompts)
        ours_sarcasm = await _sarcasm(judge, ours_replies)
        ours_scores = _scores(reward, prompts, ours_replies, ours_sarcasm)
        theirs_replies: list[str] = []
        theirs_sarcasm: list[float] = []
        theirs_scores = ours_scores
        if theirs_gen is not None:
            theirs_replies = await _best_replies(theirs_gen, judge, prompts)
            theirs_sarcasm = await _sarcasm(judge, theirs_replies)
            theirs_scores = _scores(reward, prompts, theirs_replies, theirs_sarcasm)
        wins = win_rate(ours_scores, theirs_scores)
        ours, ours_human = _generator_report(
            ours_gen, prompts, ours_replies, ours_sarcasm, wins, held, sarcasm
        )
        if theirs_gen is None:
            return Comparison(key=PRIMARY_METRIC["generator"], candidate=ours, active=None)
        theirs, theirs_human = _generator_report(
            theirs_gen, prompts, theirs_replies, theirs_sarcasm, 1.0 - wins, held, sarcasm
        )
        interval = agreement_difference(
            [r.liked for r in held.ratings],
            ours_human[0],
            theirs_human[0],
            ours_human[1],
            theirs_human[1],
        )
        return Comparison(
            key=PRIMARY_METRIC["generator"],
            candidate=ours,
            active=theirs,
            decided_by=DECISION_METRIC["generator"],
            interval=interval,
        )


def _channel_f1_difference(
    rows: _Rows, candidate: Sequence[float], active: Sequence[float]
) -> Interval:
    """Return the paired F1 difference on the held-out channel labels, flagged as channels flag.

    Both models flag a message when its probability reaches its channel's threshold, as the bot
    does; base rows are left out (they are not what the channel sees).
    """
    on_channel = [i for i, c in enumerate(rows.channels) if c is not None]
    cuts = [rows.thresholds[rows.channels[i] or ""] for i in on_channel]
    return f1_difference(
        [rows.labels[i] for i in on_channel],
        flags([candidate[i] for i in on_channel], cuts),
        flags([active[i] for i in on_channel], cuts),
    )


def _threshold(model: ModelVersion) -> float:
    """Return the decision threshold stored with a classifier version (0.5 without one)."""
    return float(model.metrics.get("threshold", 0.5))


def _classifier_report(
    rows: _Rows, probabilities: list[float], threshold: float
) -> dict[str, float]:
    """Return the metrics of one classifier on the validation rows (see the module docstring)."""
    metrics = classifier_metrics(rows.labels, probabilities, threshold=threshold)
    on_channel = [i for i, c in enumerate(rows.channels) if c is not None]
    on_base = [i for i, c in enumerate(rows.channels) if c is None]
    if on_channel:
        labels = [rows.labels[i] for i in on_channel]
        cuts = [rows.thresholds[rows.channels[i] or ""] for i in on_channel]
        channel = classifier_metrics(labels, [probabilities[i] for i in on_channel], threshold=cuts)
        metrics |= {
            CHANNEL_F1: channel[F1],
            CHANNEL_PRECISION: channel[PRECISION],
            CHANNEL_COUNT: float(len(on_channel)),
        }
    if on_base:
        labels = [rows.labels[i] for i in on_base]
        base = classifier_metrics(labels, [probabilities[i] for i in on_base], threshold=threshold)
        metrics |= {BASE_F1: base[F1], BASE_PRECISION: base[PRECISION]}
    by_channel: dict[str, list[float]] = {c: [] for c in rows.thresholds}
    for probability, channel_id in zip(probabilities, rows.channels, strict=True):
        if channel_id is not None:
            by_channel[channel_id].append(probability)
    for channel_id, rate in flag_rates(by_channel, rows.thresholds).items():
        metrics[flag_rate_key(channel_id)] = rate
    return metrics


def _rates(metrics: Mapping[str, float]) -> dict[str, float]:
    prefix = flag_rate_key("")
    return {k.removeprefix(prefix): v for k, v in metrics.items() if k.startswith(prefix)}


def _generator_report(
    generator: Generator,
    prompts: list[str],
    replies: list[str],
    sarcasm: list[float],
    wins: float,
    held: HumanFeedback,
    held_sarcasm: Mapping[str, float],
) -> tuple[dict[str, float], tuple[list[float], list[float]]]:
    """Return one generator's metrics, and its held-out rating scores and pair outcomes."""
    metrics = generator_metrics(
        sarcasm=sarcasm,
        relevance=[relevance(p, r) for p, r in zip(prompts, replies, strict=True)],
        replies=replies,
        wins=wins,
    )
    reward = reward_of(generator)
    scores = rating_scores(reward, held.ratings, held_sarcasm)
    outcomes = pair_outcomes(reward, held.pairs, held_sarcasm)
    metrics |= human_metrics(held.ratings, scores, outcomes)
    metrics[TOP_LIKED_SHARE] = top_liked_share(
        dict(zip(prompts, replies, strict=True)), held.ratings
    )
    metrics[QUALITY] = quality(metrics)
    return metrics, (scores, outcomes)


async def _best_replies(
    generator: Generator, judge: Classifier | None, prompts: Sequence[str]
) -> list[str]:
    """Return each prompt's top reply as serving ranks it, a few prompts at a time."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def best(prompt: str) -> str:
        async with gate:
            candidates = await best_replies(generator, judge, prompt, n=1)
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
