"""Build the served model of a registered ``openai`` version (its index, the configured server).

Imported only for ``openai`` versions, so a local-only process never loads the ``openai`` SDK.
"""

from __future__ import annotations

from pathlib import Path

from tuning.config import Settings
from tuning.errors import ModelError
from tuning.models.openai_chat import OpenAIClassifier, OpenAIGenerator
from tuning.models.openai_index import load_index
from tuning.records import ModelVersion


def openai_generator(model: ModelVersion, settings: Settings) -> OpenAIGenerator:
    """Return the generator an ``openai`` version describes; raise ModelError if it cannot."""
    index = load_index(Path(model.artifact))
    _check(model, settings, index.task)
    return OpenAIGenerator(
        version=index.version,
        model=index.model,
        settings=settings.openai,
        reward=index.reward,
        exemplars=index.exemplars,
    )


def openai_classifier(model: ModelVersion, settings: Settings) -> OpenAIClassifier:
    """Return the classifier an ``openai`` version describes; raise ModelError if it cannot."""
    index = load_index(Path(model.artifact))
    _check(model, settings, index.task)
    return OpenAIClassifier(
        version=index.version,
        model=index.model,
        settings=settings.openai,
        examples=index.examples,
        metrics={key: float(value) for key, value in model.metrics.items()},
    )


def _check(model: ModelVersion, settings: Settings, task: str) -> None:
    if task != model.task:
        raise ModelError(f"{model.artifact}: holds a {task}, expected a {model.task}")
    if not settings.openai.base_url:
        raise ModelError(
            f"OPENAI_BASE_URL: {model.version} runs on an OpenAI-compatible server; set it"
        )
