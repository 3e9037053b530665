"""Turn a registered :class:`ModelVersion` into a model object, by its backend.

``local`` versions are artifact directories (skops classifier, JSON generator); ``vertex``
versions are tuned endpoints served by :mod:`tuning.models.vertex`, imported only when needed
(google-genai is a dependency, but slow to import); ``openai`` versions are an index file read
by :mod:`tuning.models.openai_index`, served by :mod:`tuning.models.openai_chat` on the
configured server. Loading blocks: call it in a thread from async code.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TypeVar

from tuning.config import Settings
from tuning.errors import ModelError
from tuning.models.base import Classifier, Generator
from tuning.models.local_classifier import LocalClassifier
from tuning.models.local_generator import LocalGenerator
from tuning.records import ModelVersion

M = TypeVar("M", Classifier, Generator)


def _vertex() -> ModuleType:
    # google-genai is a dependency, imported on first use only because it is slow to import.
    try:
        return importlib.import_module("tuning.models.vertex")
    except ModuleNotFoundError as exc:
        raise ModelError(
            f"cannot load Vertex AI models: the module {exc.name} is missing; reinstall "
            "sarcasm-bot with its dependencies (pip install -e .)"
        ) from exc


def load_classifier(model: ModelVersion, settings: Settings) -> Classifier:
    """Return the classifier a registered version describes; raise ModelError if it cannot."""
    if model.backend == "openai" and model.task == "classifier":
        from tuning.models.openai_loader import openai_classifier

        return _checked(model, openai_classifier(model, settings))
    return _load(model, settings, "classifier", LocalClassifier.load, "VertexClassifier")


def load_generator(model: ModelVersion, settings: Settings) -> Generator:
    """Return the generator a registered version describes; raise ModelError if it cannot."""
    if model.backend == "openai" and model.task == "generator":
        from tuning.models.openai_loader import openai_generator

        return _checked(model, openai_generator(model, settings))
    return _load(model, settings, "generator", LocalGenerator.load, "VertexGenerator")


def _load(
    model: ModelVersion,
    settings: Settings,
    task: str,
    load_local: Callable[[Path], M],
    vertex_class: str,
) -> M:
    if model.task != task:
        raise ModelError(f"{model.version} is a {model.task}, not a {task}")
    if model.backend == "local":
        loaded = load_local(Path(model.artifact))
    elif model.backend == "vertex":
        loaded = getattr(_vertex(), vertex_class)(model, settings)
    else:
        raise ModelError(f"{model.version}: unknown model backend {model.backend!r}")
    return _checked(model, loaded)


def _checked(model: ModelVersion, loaded: M) -> M:
    if loaded.version != model.version:
        raise ModelError(f"{model.artifact}: holds {loaded.version}, expected {model.version}")
    return loaded
