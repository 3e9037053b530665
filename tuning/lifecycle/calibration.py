"""Calibrate a prompted classifier's label probabilities on its validation split (Vertex, openai).

Run when a candidate is evaluated, before the comparison, so the metrics and later serving both
use the calibrated numbers. The result is stored with the model version (its metrics): the two
per-label probabilities and whether the version returns logprobs at all.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Protocol

from tuning.config import Settings
from tuning.datasets.formats import read_jsonl, sft_pair
from tuning.models.label_calibration import LOGPROBS, Answer, calibrate
from tuning.prompts import LABEL_WORDS
from tuning.records import ModelVersion, frozen_mapping
from tuning.store.base import Store

Calibrate = Callable[[ModelVersion, Path], Awaitable[ModelVersion]]


class Labeller(Protocol):
    """A classifier that answers label words: Vertex's tuned one, or an OpenAI-compatible one."""

    @property
    def uses_logprobs(self) -> bool:
        """Whether it is (still) asked for logprobs."""
        ...

    async def answer(self, texts: Sequence[str]) -> list[Answer]:
        """Return what it answered for each text, in input order."""
        ...

    async def aclose(self) -> None:
        """Close its connections."""
        ...


def calibrator(store: Store, settings: Settings) -> Calibrate:
    """Return the calibration step for candidates registered in ``store``."""

    async def calibrate_candidate(model: ModelVersion, validation: Path) -> ModelVersion:
        """Store and return ``model`` with calibrated label probabilities (Vertex, openai)."""
        if model.task != "classifier" or model.backend not in ("vertex", "openai"):
            return model
        lines = await asyncio.to_thread(read_jsonl, validation, method="sft")
        pairs = [sft_pair(line) for line in lines]
        classifier = await asyncio.to_thread(_labeller, model, settings)
        try:
            answers = await classifier.answer([text for text, _ in pairs])
        finally:
            await classifier.aclose()
        truths = [int(target == LABEL_WORDS["sarcastic"]) for _, target in pairs]
        metrics = calibrate([a.label for a in answers], truths)
        metrics[LOGPROBS] = float(classifier.uses_logprobs)
        await store.update_model_metrics(task=model.task, version=model.version, metrics=metrics)
        return dataclasses.replace(model, metrics=frozen_mapping({**model.metrics, **metrics}))

    return calibrate_candidate


def _labeller(model: ModelVersion, settings: Settings) -> Labeller:
    """Return the classifier that answers label words for ``model`` (imported when needed)."""
    if model.backend == "openai":
        from tuning.models.openai_loader import openai_classifier

        return openai_classifier(model, settings)
    from tuning.models.vertex import VertexClassifier  # google-genai is slow to import

    return VertexClassifier(model, settings)
