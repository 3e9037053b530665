"""Gemini tuning jobs on Vertex AI, through google-genai's ``client.aio.tunings``.

SFT jobs use ``SUPERVISED_FINE_TUNING``; preference jobs use ``PREFERENCE_TUNING``, Vertex AI's
successor to the legacy RLHF pipeline
(https://cloud.google.com/vertex-ai/generative-ai/docs/models/gemini-preference-tuning). Following
Vertex's advice, a preference job continues from the active tuned generator (the SFT model) by
passing its model resource name as ``base_model``, which the SDK sends as ``preTunedModel``.

Creating a job is not idempotent, so the SDK never retries it: its retry predicate also retries
``aiohttp`` disconnects whatever the status-code list says (``google/genai/_api_client.py``,
``retry_args``), and a create whose answer was lost would then make a second job. We retry it
ourselves: a 429 created nothing and is retried as it is; after any ambiguous failure (5xx,
timeout, lost connection) we first look the job up by its ``job`` label with a server-side
``filter`` and adopt it. The same lookup adopts a job an earlier process launched but never
recorded.

A reinforcement job (``REINFORCEMENT_TUNING``) optimises the generator against our reward
scorer on Cloud Run (``python -m tuning serve-reward``, at VERTEX_REWARD_URL). Before it is
created, ``preflight`` dry-runs that reward on a few training prompts with
``tunings.validate_reward``, so a scorer that is down, refused or answers nonsense stops the
job before it costs anything; the rewards it saw are recorded on the job. Like a preference
job, it continues from the active tuned generator when VERTEX_CONTINUE_FROM_ACTIVE=preference.
"""

from __future__ import annotations

import asyncio
import json
import logging
import warnings
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from google.genai import types

from tuning.backends.base import RemoteStatus, TuningBackend
from tuning.backends.vertex_spec import (
    APP,
    CANCELLING,
    LIST_PAGE_SIZE,
    MAX_VALIDATION_EXAMPLES,
    STATES,
    count_examples,
    label_filter,
    label_value,
    reward_config,
    tuning_config,
)
from tuning.cloud.uploads import DatasetUploader, GcsUploader
from tuning.cloud.vertex_client import (
    CALL_ERRORS,
    ambiguous,
    backend_error,
    build_client,
    rate_limited,
)
from tuning.datasets.files import DatasetFiles
from tuning.datasets.reinforcement import PREFERRED_REPLY
from tuning.errors import BackendError, DatasetError
from tuning.records import (
    ENDED_JOB_STATES,
    GENERATOR_ONLY,
    JobRecord,
    ModelVersion,
    frozen_mapping,
)

log = logging.getLogger(__name__)
# Told of each uploaded dataset file and its copy's URI (the copy's manifest entry is made so).
Uploaded = Callable[[Path, str], Awaitable[None]]
# What the dry run offers the scorer for a prompt nobody rated a reply to.
SAMPLE_REPLY = "Oh, wonderful. Exactly what everyone was hoping for."

if TYPE_CHECKING:
    from google import genai

    from tuning.config import Settings, VertexSettings


class VertexBackend(TuningBackend):
    """Run tuning jobs on Vertex AI with a ready google-genai client and a dataset uploader."""

    name = "vertex"

    def __init__(
        self,
        *,
        client: genai.Client,
        uploader: DatasetUploader,
        vertex: VertexSettings,
        retry_delay: float = 1.0,
        uploaded: Uploaded | None = None,
    ) -> None:
        self._client = client
        self._uploader = uploader
        self._vertex = vertex
        self._retry_delay = retry_delay
        self._uploaded = uploaded

    @classmethod
    def from_settings(
        cls, settings: Settings, *, uploaded: Uploaded | None = None
    ) -> VertexBackend:
        """Build the backend for the configured project, tuning region and bucket."""
        vertex = settings.vertex
        return cls(
            client=build_client(vertex),
            uploader=GcsUploader.from_settings(vertex),
            vertex=vertex,
            uploaded=uploaded,
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
        existing = await self._launched(job)
        if existing is not None:
            return existing
        source = await self._source(job, base)
        train_uri = await self._upload(dataset.train)
        validation_uri = await self._upload(dataset.validation) if validation_count else None
        config = tuning_config(job, self._vertex, validation_uri=validation_uri)
        attempt = 1
        while True:
            try:
                return await self._create(source, train_uri, config)
            except CALL_ERRORS as exc:
                if ambiguous(exc):
                    # The job may exist although the answer was lost: never create it twice.
                    existing = await self._launched(job)
                    if existing is not None:
                        return existing
                elif not rate_limited(exc):
                    raise self._error(exc, "create the tuning job") from exc
                if attempt >= self._vertex.retry_attempts:
                    raise self._error(exc, "create the tuning job") from exc
            await asyncio.sleep(self._retry_delay * 2 ** (attempt - 1))
            attempt += 1

    async def _upload(self, path: Path) -> str:
        """Upload one dataset file and report its copy (forget-me deletes it with the dataset)."""
        uri = await self._uploader.upload(path)
        if self._uploaded is not None:
            await self._uploaded(path, uri)
        return uri

    async def _create(
        self, source: str, train_uri: str, config: types.CreateTuningJobConfig
    ) -> str:
        # tune() warns once that the SDK's tuning API is experimental; we pin the SDK.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The SDK's tuning implementation")
            call = self._client.aio.tunings.tune(
                base_model=source,
                training_dataset=types.TuningDataset(gcs_uri=train_uri),
                config=config,
            )
        remote = await call
        name = remote.name
        if not isinstance(name, str) or not name:
            raise BackendError("Vertex AI created a tuning job but returned no name")
        return name

    async def preflight(self, *, job: JobRecord, dataset: DatasetFiles) -> Mapping[str, Any]:
        """Dry-run a reinforcement job's reward on a few prompts; return the rewards seen.

        Each prompt is scored with its preferred reply (or :data:`SAMPLE_REPLY`) through
        ``tunings.validate_reward``, which calls the scorer as the job will. Raise
        BackendError when a call fails or the scorer reports an error.
        """
        if job.method != "reinforcement":
            return {}
        scorer = reward_config(self._vertex)
        lines = await asyncio.to_thread(_first_lines, dataset.train, self._vertex.reward_checks)
        parent = f"projects/{self._vertex.project}/locations/{self._vertex.region}"
        rewards = []
        for line in lines:
            reply = str((line.get("references") or {}).get(PREFERRED_REPLY) or SAMPLE_REPLY)
            example = types.ReinforcementTuningExample.model_validate(line)
            try:
                answer = await self._client.aio.tunings.validate_reward(
                    parent=parent,
                    sample_response=types.Content(role="model", parts=[types.Part(text=reply)]),
                    example=example,
                    single_reward_config=scorer,
                )
            except CALL_ERRORS as exc:
                raise self._error(exc, "dry-run the reward") from exc
            if answer.error or answer.overall_reward is None:
                raise BackendError(
                    f"the reward scorer at {self._vertex.reward_url} failed its dry run: "
                    f"{answer.error or 'no reward'}"
                )
            rewards.append(round(float(answer.overall_reward), 4))
        log.info("job %s: reward dry run on %d prompts: %s", job.id, len(rewards), rewards)
        return {"reward_check": rewards}

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
        """Cancel the Vertex AI job unless it has ended or is already being cancelled."""
        if _cancelled_or_ended(await self.status(job=job)):
            return
        try:
            await self._client.aio.tunings.cancel(name=_remote_name(job))
        except CALL_ERRORS as exc:
            # The job may have ended between our read and the cancel; that is not an error.
            if _cancelled_or_ended(await self.status(job=job)):
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
        wanted = policy == "always" or (policy == "preference" and job.method in GENERATOR_ONLY)
        if not wanted or base is None or base.backend != self.name:
            return base_model
        if "/models/" in base.artifact:
            return base.artifact
        model = await self._tuned_model_behind(base.artifact, job.task)
        if model is None:
            raise BackendError(
                f"cannot find the tuned model behind {base.artifact} to continue from; set "
                "VERTEX_CONTINUE_FROM_ACTIVE=never to tune the base model instead"
            )
        return model

    async def _tuned_model_behind(self, endpoint: str, task: str) -> str | None:
        """Return the tuned model a ``task`` job of ours deployed to ``endpoint``, or None."""
        for remote in await self._our_jobs(task=task):
            if remote.tuned_model and remote.tuned_model.endpoint == endpoint:
                return remote.tuned_model.model
        return None

    async def _launched(self, job: JobRecord) -> str | None:
        """Return the name of the Vertex job already created for ``job``, or None."""
        for remote in await self._our_jobs(job=label_value(job.id)):
            if remote.name:
                return remote.name
        return None

    async def _our_jobs(self, **labels: str) -> list[types.TuningJob]:
        """Return the region's tuning jobs with our ``app`` label and ``labels``, by the server."""
        config = types.ListTuningJobsConfig(
            page_size=LIST_PAGE_SIZE, filter=label_filter({"app": APP, **labels})
        )
        try:
            pager = await self._client.aio.tunings.list(config=config)
            return [job async for job in pager]
        except CALL_ERRORS as exc:
            raise self._error(exc, "list tuning jobs") from exc

    def _error(self, exc: BaseException, action: str) -> BackendError:
        return backend_error(exc, action=action, attempts=self._vertex.retry_attempts)


def _cancelled_or_ended(status: RemoteStatus) -> bool:
    # CANCELLING folds into RUNNING, but a second cancel would be refused.
    return status.state in ENDED_JOB_STATES or status.detail.get("remote_state") == CANCELLING


def _first_lines(path: Path, count: int) -> list[dict[str, Any]]:
    """Return the first ``count`` JSON lines of a dataset file."""
    lines: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as handle:
        for text in handle:
            if text.strip():
                lines.append(json.loads(text))
            if len(lines) >= count:
                break
    return lines


def _remote_name(job: JobRecord) -> str:
    if not job.remote_name:
        raise BackendError(f"job {job.id} was never launched on Vertex AI")
    return job.remote_name
