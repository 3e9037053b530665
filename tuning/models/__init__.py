"""Model interfaces, local and Vertex AI models, local training, and serving."""

from tuning.models.base import Classifier, Generator

__all__ = ["Classifier", "Generator"]
