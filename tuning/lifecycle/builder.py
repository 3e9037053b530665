"""Build the tuning and privacy services: the one builder ``python -m tuning`` and the bot use.

The local backend is always there. Vertex AI joins when it is wanted (``MODEL_BACKEND=vertex``,
``--backend vertex``) or merely configured (``GOOGLE_CLOUD_PROJECT`` set). A wanted backend that
cannot be built is an error; a merely configured one is logged and left out, so `/sarcasm
retrain` answers that the vertex backend is not available here. The OpenAI-compatible backend
joins the same way (``MODEL_BACKEND=openai``, ``--backend openai``, or ``OPENAI_BASE_URL`` set).
"""

from __future__ import annotations

import logging
from functools import partial

from tuning.backends.base import TuningBackend
from tuning.backends.local import LocalBackend
from tuning.cloud.uploads import DatasetUploader, GcsUploader
from tuning.config import Settings
from tuning.errors import BackendError
from tuning.lifecycle.job_log import OnChange
from tuning.lifecycle.rebuild import LocalRebuild
from tuning.lifecycle.service import TuningService
from tuning.lifecycle.tracing import record_upload
from tuning.privacy.erase import PrivacyService
from tuning.store.base import Store

log = logging.getLogger(__name__)


def build_tuning_service(
    settings: Settings,
    store: Store,
    *,
    backend: str | None = None,
    on_change: OnChange | None = None,
    strict: bool = False,
) -> TuningService:
    """Return a TuningService with the local backend and, when wanted or configured, Vertex AI.

    Raise :class:`BackendError` when ``backend`` asks for Vertex AI and it cannot be built, or,
    with ``strict`` (the CLI), when ``MODEL_BACKEND`` does. The bot process is not strict: it
    keeps serving with the local backend and logs why Vertex AI is missing.
    """
    backends: dict[str, TuningBackend] = {"local": LocalBackend(settings=settings, store=store)}
    wanted = backend or settings.model_backend
    if wanted == "vertex" or (backend is None and settings.vertex.project):
        try:
            backends["vertex"] = vertex_backend(settings, store)
        except BackendError as error:
            if backend == "vertex" or (strict and wanted == "vertex"):
                raise
            log.warning("vertex tuning backend unavailable: %s", error)
    if wanted == "openai" or (backend is None and settings.openai.base_url):
        try:
            backends["openai"] = openai_backend(settings, store)
        except BackendError as error:
            if backend == "openai" or (strict and wanted == "openai"):
                raise
            log.warning("openai tuning backend unavailable: %s", error)
    return TuningService(store, settings, backends, on_change=on_change)


def openai_backend(settings: Settings, store: Store) -> TuningBackend:
    """Build the OpenAI-compatible backend; raise one clear line if it is not configured."""
    from tuning.backends.openai import OpenAIBackend  # the openai SDK, only when wanted

    return OpenAIBackend(settings=settings, store=store)


def vertex_backend(settings: Settings, store: Store) -> TuningBackend:
    """Build the Vertex AI backend; raise one clear line if it is not configured.

    Each dataset file it uploads is added to its dataset's manifest, so forget-me finds it.
    """
    # Imported here so that a local-only process never loads google-genai's tuning types.
    from tuning.backends.vertex import VertexBackend

    if not settings.vertex.project or not settings.vertex.bucket:
        raise BackendError("the vertex backend needs GOOGLE_CLOUD_PROJECT and TUNING_BUCKET")
    return VertexBackend.from_settings(settings, uploaded=partial(record_upload, store))


def build_privacy_service(settings: Settings, store: Store) -> PrivacyService:
    """Return the forget-me and retention service, with GCS when TUNING_BUCKET is set.

    Without credentials for the bucket the service still runs: a ``gs://`` location it cannot
    delete stays pending with the reason, for the next ``tick``.
    """
    objects: DatasetUploader | None = None
    if settings.vertex.bucket:
        try:
            objects = GcsUploader.from_settings(settings.vertex)
        except BackendError as error:
            log.warning("cannot delete from %s: %s", settings.vertex.bucket, error)
    return PrivacyService(store, settings, rebuild=LocalRebuild(store, settings), objects=objects)
