"""Calibrate a tuned Vertex classifier's label probabilities on its validation split.

Run when a candidate is evaluated, before the comparison, so the metrics and later serving both
use the calibrated numbers. The result is stored with the model version (its metrics): the two
per-label probabilities and whether the version returns logprobs at all.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from pathlib import Path

from tuning.config import Settings
from tuning.datasets.formats import read_jsonl, sft_pair
from tuning.models.label_calibration import LOGPROBS, calibrate
from tuning.prompts import LABEL_WORDS
from tuning.records import ModelVersion, frozen_mapping
from tuning.store.base import Store

Calibrate = Callable[[ModelVersion, Path], Awaitable[ModelVersion]]


def calibrator(store: Store, settings: Settings) -> Calibrate:
    """Return the calibration step for candidates registered in ``store``."""

    async def calibrate_candidate(model: ModelVersion, validation: Path) -> ModelVersion:
        """Store and return ``model`` with calibrated label probabilities (Vertex classifiers)."""
        if model.task != "classifier" or model.backend != "vertex":
            return model
        from tuning.models.vertex import VertexClassifier  # google-genai is slow to import

        lines = await asyncio.to_thread(read_jsonl, validation, method="sft")
        pairs = [sft_pair(line) for line in lines]
        classifier = VertexClassifier(model, settings)
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
