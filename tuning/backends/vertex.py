"""Gemini tuning jobs on Vertex AI, through google-genai's ``client.aio.tunings``.

SFT jobs use ``SUPERVISED_FINE_TUNING``; preference jobs use ``PREFERENCE_TUNING``, Vertex AI's
successor to the legacy RLHF pipeline
(https://cloud.google.com/vertex-ai/generative-ai/docs/models/gemini-preference-tuning). Following
Vertex's advice, a preference job continues from the active tuned generator (the SFT model) by
passing its model resource name as ``base_model``, which the SDK sends as ``preTunedModel``.
"""

from __future__ import annotations

import asyncio
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from google.genai import types

from tuning.backends.base import DatasetFiles, RemoteStatus, TuningBackend
from tuning.errors import BackendError, DatasetError
from tuning.records import JobRecord, JobState, ModelVersion, frozen_mapping
from tuning.uploads import DatasetUploader, GcsUploader
from tuning.vertex_client import CALL_ERRORS, backend_error, build_client

if TYPE_CHECKING:
    from google import genai

    from tuning.config import Settings, VertexSettings

# Vertex AI accepts at most 5,000 validation examples.
MAX_VALIDATION_EXAMPLES = 5000
ADAPTER_SIZES = {1: "ONE", 2: "TWO", 4: "FOUR", 8: "EIGHT", 16: "SIXTEEN"}
# Vertex's JobState, folded into ours. CANCELLING and UPDATING are still in flight; a tuning job
# that only partly succeeded has no usable model, so it counts as failed.
STATES: dict[str, JobState] = {
    "JOB_STATE_UNSPECIFIED": "QUEUED",
    "JOB_STATE_QUEUED": "QUEUED",
    "JOB_STATE_PENDING": "PENDING",
    "JOB_STATE_PAUSED": "PENDING",
    "JOB_STATE_RUNNING": "RUNNING",
    "JOB_STATE_CANCELLING": "RUNNING",
    "JOB_STATE_UPDATING": "RUNNING",
    "JOB_STATE_SUCCEEDED": "SUCCEEDED",
    "JOB_STATE_PARTIALLY_SUCCEEDED": "FAILED",
    "JOB_STATE_FAILED": "FAILED",
    "JOB_STATE_CANCELLED": "CANCELLED",
    "JOB_STATE_EXPIRED": "EXPIRED",
}


def count_examples(path: Path) -> int:
    """Return the number of non-blank lines in a JSONL file (0 if it does not exist)."""
    if not path.is_file():
        return 0
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def label_value(text: str) -> str:
    """Return ``text`` as a valid GCP label value: lowercase, ``[a-z0-9_-]``, at most 63 chars."""
    return re.sub(r"[^a-z0-9_-]+", "-", text.lower())[:63]


class VertexBackend(TuningBackend):
    """Run tuning jobs on Vertex AI with a ready google-genai client and a dataset uploader."""

    name = "vertex"

    def __init__(
        self, *, client: genai.Client, uploader: DatasetUploader, vertex: VertexSettings
    ) -> None:
        self._client = client
        self._uploader = uploader
        self._vertex = vertex

    @classmethod
    def from_settings(cls, settings: Settings) -> VertexBackend:
        """Build the backend for the configured project, tuning region and bucket."""
        vertex = settings.vertex
        return cls(
            client=build_client(vertex), uploader=GcsUploader.from_settings(vertex), vertex=vertex
        )

    async def start(
        self, *, job: JobRecord, dataset: DatasetFiles, base: ModelVersion | None
    ) -> str:
        """Check the dataset's size, upload it, and create the tuning job; return its name."""
        train_count = await asyncio.to_thread(count_examples, dataset.train)
        validation_count = await asyncio.to_thread(count_examples, dataset.validation)
        minimum = self._vertex.min_train_examples
        if train_count < minimum:
            raise DatasetError(
                f"the {job.task} {job.method} training set has {train_count} examples; Vertex AI "
                f"tuning needs at least {minimum} (VERTEX_MIN_TRAIN_EXAMPLES)"
            )
        if validation_count > MAX_VALIDATION_EXAMPLES:
            raise DatasetError(
                f"the validation set has {validation_count} examples; Vertex AI accepts at most "
                f"{MAX_VALIDATION_EXAMPLES}"
            )
        source = await self._source(job, base)
        train_uri = await self._uploader.upload(dataset.train)
        validation_uri = (
            await self._uploader.upload(dataset.validation) if validation_count else None
        )
        config = self._tuning_config(job, validation_uri)
        try:
            # tune() warns once that the SDK's tuning API is experimental; we pin the SDK.
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="The SDK's tuning implementation")
                call = self._client.aio.tunings.tune(
                    base_model=source,
                    training_dataset=types.TuningDataset(gcs_uri=train_uri),
                    config=config,
                )
            remote = await call
        except CALL_ERRORS as exc:
            raise self._error(exc, "create the tuning job") from exc
        if not remote.name:
            raise BackendError("Vertex AI created a tuning job but returned no name")
        return remote.name

    async def status(self, *, job: JobRecord) -> RemoteStatus:
        """Return where the Vertex AI job stands; ``artifact`` is the tuned endpoint on success."""
        try:
            remote = await self._client.aio.tunings.get(name=_remote_name(job))
        except CALL_ERRORS as exc:
            raise self._error(exc, "read the tuning job") from exc
        raw = remote.state.value if remote.state else "JOB_STATE_UNSPECIFIED"
        state = STATES.get(raw, "RUNNING")
        tuned = remote.tuned_model
        detail: dict[str, Any] = {"remote_state": raw}
        if tuned is not None:
            detail |= {"tuned_model": tuned.model, "endpoint": tuned.endpoint}
        error = remote.error.message if remote.error and remote.error.message else None
        if state == "SUCCEEDED" and not (tuned and tuned.endpoint):
            state, error = "FAILED", "Vertex AI reported success but no tuned endpoint"
        elif state == "FAILED" and not error:
            error = f"Vertex AI reported {raw} without a message"
        elif state == "EXPIRED" and not error:
            error = "the job waited too long for resources and expired; launch it again"
        artifact = tuned.endpoint if state == "SUCCEEDED" and tuned else None
        return RemoteStatus(
            state=state, error=error, artifact=artifact, detail=frozen_mapping(detail)
        )

    async def cancel(self, *, job: JobRecord) -> None:
        """Cancel the Vertex AI job unless it has already ended."""
        if (await self.status(job=job)).state in ("SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED"):
            return
        try:
            await self._client.aio.tunings.cancel(name=_remote_name(job))
        except CALL_ERRORS as exc:
            # The job may have ended between our read and the cancel; that is not an error.
            if (await self.status(job=job)).state in ("SUCCEEDED", "FAILED", "CANCELLED"):
                return
            raise self._error(exc, "cancel the tuning job") from exc

    async def aclose(self) -> None:
        """Close the client's HTTP session (jobs keep running on Vertex AI)."""
        await self._client.aio.aclose()

    async def _source(self, job: JobRecord, base: ModelVersion | None) -> str:
        """Return the base model id, or the active tuned model's resource name to continue from."""
        vertex = self._vertex
        base_model = (
            vertex.classifier_base_model
            if job.task == "classifier"
            else vertex.generator_base_model
        )
        policy = str(job.config.get("continue_from_active", vertex.continue_from_active))
        wanted = policy == "always" or (policy == "preference" and job.method == "preference")
        if not wanted or base is None or base.backend != self.name:
            return base_model
        if "/models/" in base.artifact:
            return base.artifact
        model = await self._tuned_model_behind(base.artifact)
        if model is None:
            raise BackendError(
                f"cannot find the tuned model behind {base.artifact} to continue from; set "
                "VERTEX_CONTINUE_FROM_ACTIVE=never to tune the base model instead"
            )
        return model

    async def _tuned_model_behind(self, endpoint: str) -> str | None:
        """Return the tuned model a job of ours deployed to ``endpoint``, or None."""
        try:
            pager = await self._client.aio.tunings.list(config={"page_size": 100})
            async for remote in pager:
                if remote.tuned_model and remote.tuned_model.endpoint == endpoint:
                    return remote.tuned_model.model
        except CALL_ERRORS as exc:
            raise self._error(exc, "list tuning jobs") from exc
        return None

    def _tuning_config(
        self, job: JobRecord, validation_uri: str | None
    ) -> types.CreateTuningJobConfig:
        """Build the typed job config (a dict would silently drop pre_tuned_model_checkpoint_id)."""
        vertex = self._vertex
        preference = job.method == "preference"
        epochs = int(job.config.get("epochs", vertex.epochs))
        multiplier = float(
            job.config.get("learning_rate_multiplier", vertex.learning_rate_multiplier)
        )
        adapter = int(job.config.get("adapter_size", vertex.adapter_size))
        beta = float(job.config.get("beta", vertex.preference_beta))
        if adapter and adapter not in ADAPTER_SIZES:
            raise BackendError(f"adapter size {adapter} is not 1, 2, 4, 8 or 16")
        return types.CreateTuningJobConfig(
            method=(
                types.TuningMethod.PREFERENCE_TUNING
                if preference
                else types.TuningMethod.SUPERVISED_FINE_TUNING
            ),
            epoch_count=epochs or None,
            learning_rate_multiplier=multiplier or None,
            adapter_size=types.AdapterSize(f"ADAPTER_SIZE_{ADAPTER_SIZES[adapter]}")
            if adapter
            else None,
            beta=(beta or None) if preference else None,
            tuned_model_display_name=f"sarcasm-bot {job.task} {job.method} {job.id}"[:128],
            labels={
                "app": "sarcasm-bot",
                "task": job.task,
                "method": job.method,
                "job": label_value(job.id),
            },
            validation_dataset=(
                types.TuningValidationDataset(gcs_uri=validation_uri) if validation_uri else None
            ),
        )

    def _error(self, exc: BaseException, action: str) -> BackendError:
        return backend_error(exc, action=action, attempts=self._vertex.retry_attempts)


def _remote_name(job: JobRecord) -> str:
    if not job.remote_name:
        raise BackendError(f"job {job.id} was never launched on Vertex AI")
    return job.remote_name
