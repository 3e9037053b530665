"""Turn a registered :class:`ModelVersion` into a model object, by its backend.

``local`` versions are artifact directories (skops classifier, JSON generator); ``vertex``
versions are tuned endpoints served by :mod:`tuning.models.vertex`, imported only when needed so
a laptop without cloud libraries configured never touches them. Loading blocks: call it in a
thread from async code.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from tuning.config import Settings
from tuning.errors import ModelError
from tuning.models.base import Classifier, Generator
from tuning.models.local_classifier import LocalClassifier
from tuning.models.local_generator import LocalGenerator
from tuning.records import ModelVersion


def _vertex() -> ModuleType:
    try:
        return importlib.import_module("tuning.models.vertex")
    except ModuleNotFoundError as exc:
        if exc.name == "tuning.models.vertex":
            raise ModelError("the vertex model backend is not installed") from exc
        raise


def _check(model: ModelVersion, task: str) -> None:
    if model.task != task:
        raise ModelError(f"{model.version} is a {model.task}, not a {task}")
    if model.backend not in ("local", "vertex"):
        raise ModelError(f"{model.version}: unknown model backend {model.backend!r}")


def load_classifier(model: ModelVersion, settings: Settings) -> Classifier:
    """Return the classifier a registered version describes; raise ModelError if it cannot."""
    _check(model, "classifier")
    if model.backend == "local":
        loaded = LocalClassifier.load(Path(model.artifact))
    else:
        loaded = _vertex().VertexClassifier(model, settings)
    if loaded.version != model.version:
        raise ModelError(f"{model.artifact}: holds {loaded.version}, expected {model.version}")
    return loaded


def load_generator(model: ModelVersion, settings: Settings) -> Generator:
    """Return the generator a registered version describes; raise ModelError if it cannot."""
    _check(model, "generator")
    if model.backend == "local":
        loaded = LocalGenerator.load(Path(model.artifact))
    else:
        loaded = _vertex().VertexGenerator(model, settings)
    if loaded.version != model.version:
        raise ModelError(f"{model.artifact}: holds {loaded.version}, expected {model.version}")
    return loaded
