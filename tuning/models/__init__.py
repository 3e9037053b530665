"""Model interfaces and their backends (local scikit-learn models, Vertex AI endpoints)."""

from tuning.models.base import Classifier, Generator

__all__ = ["Classifier", "Generator"]
