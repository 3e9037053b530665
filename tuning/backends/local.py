"""The local tuning backend: the same job lifecycle as Vertex AI, run in a worker thread.

A job is PENDING until the single worker slot is free, RUNNING while it trains (in a thread, so
the event loop never blocks), then SUCCEEDED, FAILED or CANCELLED. The finished version is also
written to ``DATA_DIR/jobs/<job id>/result.json``, so a process that did not run the job (the
bot after a restart, a later ``tick``) can still see that it finished.

There is no local reinforcement tuning: the local generator is no policy that could learn from
rewards (that needs an LLM backend). Its equivalent is what serving already does, best-of-n
reranking: the generator offers a pool of candidates and the same reward model the Vertex
scorer serves picks the best (``tuning.models.ranking.best_replies``). The backend refuses
``reinforcement`` with :data:`NO_REINFORCEMENT`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuning.backends.base import RemoteStatus, TuningBackend
from tuning.backends.local_job import Cancelled, SarcasmFn, train_local
from tuning.config import Settings
from tuning.datasets.files import DatasetFiles
from tuning.errors import BackendError, ModelError, SarcasmError
from tuning.models.artifacts import read_json, write_json
from tuning.models.local_classifier import LocalClassifier
from tuning.records import JobRecord, JobState, Method, ModelVersion, Task, frozen_mapping
from tuning.store.base import Store

log = logging.getLogger(__name__)
NO_REINFORCEMENT = (
    "the local backend cannot run reinforcement tuning (it has no policy to train; best-of-n "
    "reranking with the reward model is its equivalent): use --backend vertex"
)
LOST = "the local worker stopped with the process that ran it; launch the job again"


@dataclass
class _Run:
    state: JobState = "PENDING"
    error: str | None = None
    model: ModelVersion | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    task: asyncio.Task[None] | None = None


async def active_sarcasm(store: Store) -> SarcasmFn | None:
    """Return the active local classifier's probabilities (the reward's input), or None."""
    active = await store.active_model(task="classifier")
    if active is None or active.backend != "local":
        return None
    try:
        classifier = await asyncio.to_thread(LocalClassifier.load, Path(active.artifact))
    except ModelError:
        log.warning("cannot load classifier %s for the reward model", active.version)
        return None
    return classifier.probabilities


class LocalBackend(TuningBackend):
    """Train candidates on this machine: scikit-learn classifier, generator pairs, reward model."""

    name = "local"

    def __init__(self, *, settings: Settings, store: Store | None = None) -> None:
        self._data_dir = settings.data_dir
        self._store = store  # to read the active classifier, which scores sarcasm for the reward
        self._runs: dict[str, _Run] = {}
        self._slot = asyncio.Semaphore(1)

    def refuses(self, *, task: Task, method: Method) -> str | None:
        """Refuse reinforcement tuning, which needs a policy this backend does not have."""
        return NO_REINFORCEMENT if method == "reinforcement" else None

    async def start(
        self, *, job: JobRecord, dataset: DatasetFiles, base: ModelVersion | None
    ) -> str:
        """Queue ``job`` for the worker and return its name at once."""
        refusal = self.refuses(task=job.task, method=job.method)
        if refusal is not None:
            raise BackendError(refusal)
        remote = f"local/{job.id}"
        run = _Run()
        self._runs[remote] = run
        run.task = asyncio.create_task(self._work(run, job, dataset, base), name=remote)
        return remote

    async def status(self, *, job: JobRecord) -> RemoteStatus:
        """Return the state of a job run by this process, or its saved result if another ran it."""
        run = self._runs.get(job.remote_name or "")
        if run is not None:
            model = run.model
            detail: dict[str, Any] = {}
            if model is not None:
                detail = {"version": model.version, "metrics": dict(model.metrics)}
            return RemoteStatus(
                state=run.state,
                error=run.error,
                artifact=model.artifact if model else None,
                detail=frozen_mapping(detail),
            )
        result = self._result_path(job)
        if result.is_file():
            saved = read_json(result)
            return RemoteStatus(
                state="SUCCEEDED",
                artifact=str(saved["artifact"]),
                detail=frozen_mapping({"version": saved["version"], "metrics": saved["metrics"]}),
            )
        return RemoteStatus(state="FAILED", error=LOST)

    async def cancel(self, *, job: JobRecord) -> None:
        """Stop a pending or running job; a training step in progress finishes and is discarded."""
        run = self._runs.get(job.remote_name or "")
        if run is None or run.state not in ("PENDING", "RUNNING"):
            return
        run.cancelled.set()
        run.state = "CANCELLED"

    async def wait_idle(self) -> None:
        """Wait for every worker this backend started (for tests and clean shutdown)."""
        tasks = [run.task for run in self._runs.values() if run.task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _work(
        self, run: _Run, job: JobRecord, dataset: DatasetFiles, base: ModelVersion | None
    ) -> None:
        async with self._slot:
            if run.cancelled.is_set():
                return
            run.state = "RUNNING"
            try:
                sarcasm = await self._sarcasm() if job.task == "generator" else None
                model = await asyncio.to_thread(
                    train_local,
                    task=job.task,
                    method=job.method,
                    dataset=dataset,
                    base=base,
                    data_dir=self._data_dir,
                    sarcasm=sarcasm,
                    cancelled=run.cancelled,
                )
                if run.cancelled.is_set():
                    return
                await asyncio.to_thread(self._save_result, job, model)
                run.model, run.state = model, "SUCCEEDED"
            except Cancelled:
                run.state = "CANCELLED"
            except SarcasmError as exc:
                run.state, run.error = "FAILED", str(exc)
            except Exception as exc:  # a bug in training: keep the job's story, log the details
                log.exception("local job %s crashed", job.id)
                run.state, run.error = "FAILED", f"training crashed ({type(exc).__name__}: {exc})"

    async def _sarcasm(self) -> SarcasmFn | None:
        return None if self._store is None else await active_sarcasm(self._store)

    def _result_path(self, job: JobRecord) -> Path:
        return self._data_dir / "jobs" / job.id / "result.json"

    def _save_result(self, job: JobRecord, model: ModelVersion) -> None:
        write_json(
            self._result_path(job),
            {"version": model.version, "artifact": model.artifact, "metrics": dict(model.metrics)},
        )
