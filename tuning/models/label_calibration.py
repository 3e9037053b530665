"""Per-label probabilities for a classifier that answers a label word without logprobs (pure).

Vertex refuses logprobs on Gemini 3 and later, so a tuned classifier there gives only a label.
Evaluation measures, on the validation split, how often each answer is right, and stores it with
the model version under the keys below; serving then reports P(sarcastic | answered SARCASTIC)
or P(sarcastic | answered NOT_SARCASTIC). Counts are smoothed (add one to each outcome), so a
small or one-sided split never gives 0 or 1.

>>> calibrated = calibrate(["sarcastic", "sarcastic", "not_sarcastic", None], [1, 0, 0, 1])
>>> calibrated[P_IF_SARCASTIC], round(calibrated[P_IF_NOT_SARCASTIC], 3)
(0.5, 0.333)
>>> label_probability("not_sarcastic", {}, fallback=0.9)
0.09999999999999998
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tuning.prompts import LABEL_WORDS
from tuning.records import Label, Prediction

# The model-version metric keys; defined here once, read by serving and written by evaluation.
P_IF_SARCASTIC = "p_sarcastic_if_answered_sarcastic"
P_IF_NOT_SARCASTIC = "p_sarcastic_if_answered_not_sarcastic"
# 1.0 when the version returns logprobs, 0.0 when it refused them (found out once, kept).
LOGPROBS = "logprobs"
KEYS: dict[Label, str] = {"sarcastic": P_IF_SARCASTIC, "not_sarcastic": P_IF_NOT_SARCASTIC}


@dataclass(frozen=True)
class Answer:
    """What a prompted classifier said: the label it answered, and P(sarcastic) from logprobs."""

    label: Label | None
    logprob_probability: float | None = None


def parse_label(text: str) -> Label | None:
    """Return the label a model answered with, or None if it answered something else.

    >>> parse_label(" not sarcastic."), parse_label("SARCASTIC"), parse_label("maybe")
    ('not_sarcastic', 'sarcastic', None)
    """
    word = text.strip().upper().replace(" ", "_").strip(".!\"'`")
    if word.startswith(LABEL_WORDS["not_sarcastic"]):
        return "not_sarcastic"
    if word.startswith(LABEL_WORDS["sarcastic"]):
        return "sarcastic"
    return None


def calibrate(answers: Sequence[Label | None], truths: Sequence[int]) -> dict[str, float]:
    """Return P(sarcastic | answer) for each label word; off-format answers (None) are left out."""
    if len(answers) != len(truths):
        raise ValueError("answers and truths differ in length")
    result = {}
    for label, key in KEYS.items():
        outcomes = [truth for answer, truth in zip(answers, truths, strict=True) if answer == label]
        result[key] = (sum(outcomes) + 1) / (len(outcomes) + 2)
    return result


def label_probability(label: Label, metrics: Mapping[str, float], *, fallback: float) -> float:
    """Return P(sarcastic) for an answered ``label``; ``fallback`` is SARCASTIC's, uncalibrated."""
    key = KEYS[label]
    if key in metrics:
        return float(metrics[key])
    return fallback if label == "sarcastic" else 1.0 - fallback


class LabelWordClassifier(abc.ABC):
    """A classifier that asks a model for one label word per text, a few texts at a time.

    Subclasses ask (``_answer``) and say where the version's calibration lives
    (``_calibration``); the probability is the label token's logprob when the model gave one,
    else the calibrated per-label constant.
    """

    concurrency = 8  # model calls in flight at once

    async def classify(self, texts: Sequence[str]) -> list[Prediction]:
        """Return one prediction per text, in input order, ``concurrency`` calls at once."""
        answers = await self.answer(texts)
        return [self._prediction(text, a) for text, a in zip(texts, answers, strict=True)]

    async def answer(self, texts: Sequence[str]) -> list[Answer]:
        """Return what the model answered for each text, in input order."""
        gate = asyncio.Semaphore(self.concurrency)

        async def one(text: str) -> Answer:
            async with gate:
                return await self._answer(text)

        return list(await asyncio.gather(*(one(text) for text in texts)))

    def _prediction(self, text: str, answer: Answer) -> Prediction:
        if answer.label is None:
            # An off-format answer is not an outage: report "don't know" below any threshold.
            return Prediction(text=text, label="not_sarcastic", probability=0.5)
        probability = answer.logprob_probability
        if probability is None:
            metrics, fallback = self._calibration()
            probability = label_probability(answer.label, metrics, fallback=fallback)
        return Prediction(text=text, label=answer.label, probability=probability)

    @abc.abstractmethod
    async def _answer(self, text: str) -> Answer:
        """Ask the model about one text."""

    @abc.abstractmethod
    def _calibration(self) -> tuple[Mapping[str, Any], float]:
        """Return the version's metrics (holding its calibration) and the uncalibrated fallback."""
