"""Build the in-process tuning service a bot process hands to the admin commands.

For ``bot/runtime.py``: ``Services(..., tuning=build_tuning_service(settings, store))``, and
``await services.tuning.close()`` on shutdown. The admin kit hooks job progress into it and
resumes unfinished jobs once, so jobs that outlived an earlier process are still reported.
"""

from __future__ import annotations

import logging

from tuning.backends.base import TuningBackend
from tuning.backends.local import LocalBackend
from tuning.cli.common import vertex_backend
from tuning.config import Settings
from tuning.errors import BackendError
from tuning.jobs import TuningService
from tuning.store.base import Store

log = logging.getLogger(__name__)


def build_tuning_service(settings: Settings, store: Store) -> TuningService:
    """Return a TuningService with the local backend and, when configured, Vertex AI."""
    backends: dict[str, TuningBackend] = {"local": LocalBackend(settings=settings, store=store)}
    if settings.model_backend == "vertex" or settings.vertex.project:
        try:
            backends["vertex"] = vertex_backend(settings)
        except BackendError as error:
            # `/sarcasm retrain` then answers that the vertex backend is not available here.
            log.warning("vertex tuning backend unavailable: %s", error)
    return TuningService(store, settings, backends)
