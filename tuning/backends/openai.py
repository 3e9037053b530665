"""The ``openai`` tuning backend: a "job" rebuilds what this backend learns, not the weights.

The model on an OpenAI-compatible server stays as it is; a job makes a new ``openai`` version
from the exported dataset, which the service then evaluates against the active version and
promotes or keeps like any other job:

- generator SFT: the few-shot index becomes the approved replies in ``train.jsonl`` plus the
  human corrections in the store's train split; the reward model is carried over;
- generator preference: the reward model is refitted on the preference pairs in ``train.jsonl``
  (Bradley–Terry, from the base version's weights); the index is carried over;
- classifier SFT: the labelled examples become those in ``train.jsonl``.

The work takes a moment, so it runs when the job starts (in a thread) and its result is saved
to ``DATA_DIR/jobs/<job id>/result.json``; ``status`` reads it back from any process.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tuning.backends.base import RemoteStatus, TuningBackend
from tuning.config import Settings
from tuning.datasets.files import DatasetFiles
from tuning.datasets.formats import preference_triple, read_jsonl, sft_pair
from tuning.errors import BackendError, DatasetError, ModelError
from tuning.models.artifacts import read_json, write_json
from tuning.models.few_shot import Exemplar, LabelledExample
from tuning.models.label_calibration import parse_label
from tuning.models.local_generator import LocalGenerator
from tuning.models.openai_index import OpenAIIndex, build_index_version, load_index
from tuning.models.openai_versions import read_feedback
from tuning.models.reward import RewardModel
from tuning.records import JobRecord, ModelVersion, frozen_mapping
from tuning.store.base import Store

LOST = "no result was saved for this job; launch it again"


class OpenAIBackend(TuningBackend):
    """Rebuild the reward model and the few-shot index of an OpenAI-compatible model."""

    name = "openai"

    def __init__(self, *, settings: Settings, store: Store) -> None:
        if not settings.openai.base_url or not settings.openai.model:
            raise BackendError("the openai backend needs OPENAI_BASE_URL and OPENAI_MODEL")
        self._settings = settings
        self._store = store

    async def start(
        self, *, job: JobRecord, dataset: DatasetFiles, base: ModelVersion | None
    ) -> str:
        """Build the job's candidate version now and save the result; return the job's name."""
        corrections: tuple[Exemplar, ...] = ()
        if job.task == "generator" and job.method == "sft":
            liked = await read_feedback(self._store)
            corrections = tuple(e for e in liked.exemplars if e.source == "correction")
        model = await asyncio.to_thread(self._build, job, dataset, base, corrections)
        result = {"version": model.version, "artifact": model.artifact}
        await asyncio.to_thread(
            write_json, self._result_path(job), result | {"metrics": dict(model.metrics)}
        )
        return f"openai/{job.id}"

    async def status(self, *, job: JobRecord) -> RemoteStatus:
        """Return SUCCEEDED with the saved candidate, or FAILED if none was saved."""
        path = self._result_path(job)
        if not path.is_file():
            return RemoteStatus(state="FAILED", error=LOST)
        saved = await asyncio.to_thread(read_json, path)
        detail = {"version": saved["version"], "metrics": saved["metrics"]}
        return RemoteStatus(
            state="SUCCEEDED", artifact=str(saved["artifact"]), detail=frozen_mapping(detail)
        )

    async def cancel(self, *, job: JobRecord) -> None:
        """Nothing to stop: the work is done by the time a job has started."""

    def _build(
        self,
        job: JobRecord,
        dataset: DatasetFiles,
        base: ModelVersion | None,
        corrections: tuple[Exemplar, ...],
    ) -> ModelVersion:
        lines = read_jsonl(dataset.train, method=job.method)
        if not lines:
            raise DatasetError(f"{dataset.train}: no training examples")
        openai = self._settings.openai
        data_dir = self._settings.data_dir
        if job.task == "classifier":
            model = openai.classifier_model or openai.model
            labelled = [(text, parse_label(target)) for text, target in map(sft_pair, lines)]
            examples = [LabelledExample(text, label) for text, label in labelled if label]
            return build_index_version(data_dir, task="classifier", model=model, examples=examples)
        current = _index_of(base)
        reward = _reward_of(base, current)
        exemplars = current.exemplars if current is not None else ()
        if job.method == "sft":
            exemplars = tuple(Exemplar(p, r) for p, r in map(sft_pair, lines)) + corrections
        else:
            reward = reward.fit([preference_triple(line) for line in lines])
        return build_index_version(
            data_dir, task="generator", model=openai.model, reward=reward, exemplars=exemplars
        )

    def _result_path(self, job: JobRecord) -> Path:
        return self._settings.data_dir / "jobs" / job.id / "result.json"


def _index_of(base: ModelVersion | None) -> OpenAIIndex | None:
    if base is None or base.backend != "openai":
        return None
    return load_index(Path(base.artifact))


def _reward_of(base: ModelVersion | None, index: OpenAIIndex | None) -> RewardModel:
    """Return the reward model a job starts from: the active version's, else the prior."""
    if index is not None and index.reward is not None:
        return index.reward
    if base is not None and base.backend == "local":
        try:
            return LocalGenerator.load(Path(base.artifact)).reward
        except ModelError:
            return RewardModel()
    return RewardModel()
