"""The tuning job lifecycle, the same for every backend: export, tune, evaluate, promote.

:class:`TuningService` records each job in the store as it goes (dataset stats, config, every
state change with its time, errors, metrics) and calls ``on_change`` after each change, so the
CLI and Slack report local and Vertex jobs alike. States: QUEUED (exporting the dataset),
PENDING and RUNNING (the backend's), EVALUATING, then SUCCEEDED with an outcome of
``promoted``, ``kept`` or ``withheld`` (its data was forgotten or expired while it trained), or
FAILED / CANCELLED / EXPIRED with the reason in ``error``. Its dataset and its candidate each
get a manifest (:mod:`tuning.lifecycle.tracing`).
Only one job of ours runs at a time (Vertex AI allows one concurrent tuning job per project).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from tuning.backends.base import RemoteStatus, TuningBackend
from tuning.config import Settings
from tuning.datasets.assemble import DatasetConfig
from tuning.datasets.files import DatasetFiles
from tuning.errors import BackendError, ConflictError, DatasetError, NotFoundError, SarcasmError
from tuning.evaluation.comparison import Evaluator, ModelEvaluator
from tuning.evaluation.decision import Rule
from tuning.lifecycle.calibration import calibrator
from tuning.lifecycle.job_log import JobLog, OnChange
from tuning.lifecycle.promotion import finish_job
from tuning.lifecycle.tracing import export_traced
from tuning.records import GENERATOR_ONLY, JobRecord, Method, StateChange, Task
from tuning.records import frozen_mapping as frozen
from tuning.store.base import Store

log = logging.getLogger(__name__)
__all__ = ["LOCAL_MIN_TRAIN", "OnChange", "TuningService"]
LOCAL_MIN_TRAIN = 20  # the local models learn from a few dozen examples; Vertex wants 100
STALE_AFTER = timedelta(minutes=10)  # a job untouched this long has lost its process
HEARTBEAT = timedelta(minutes=1)
MAX_STATUS_ERRORS = 5


class TuningService:
    """Launch, follow, evaluate and promote tuning jobs; see the module docstring."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        backends: Mapping[str, TuningBackend],
        *,
        on_change: OnChange | None = None,
        evaluator: Evaluator | None = None,
        poll_seconds: Mapping[str, float] | None = None,
        dataset_config: Mapping[str, DatasetConfig] | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._backends = dict(backends)
        self.on_change = on_change
        self._evaluator = evaluator or ModelEvaluator(settings=settings, store=store)
        self._calibrate = calibrator(store, settings)
        self._poll = {"local": 0.2, "openai": 0.2, **(poll_seconds or {})}
        self._datasets = {
            "local": DatasetConfig(min_train=LOCAL_MIN_TRAIN),
            "openai": DatasetConfig(min_train=LOCAL_MIN_TRAIN),  # few-shot needs few examples
            "vertex": DatasetConfig(min_train=settings.vertex.min_train_examples),
            **(dataset_config or {}),
        }
        self._holder = uuid.uuid4().hex
        self._log = JobLog(store, lambda: self.on_change)
        self._tasks: dict[str, asyncio.Task[JobRecord]] = {}
        self._launched: dict[str, asyncio.Event] = {}

    # -- public API ----------------------------------------------------------------------------

    async def launch(
        self,
        *,
        task: Task,
        method: Method,
        backend: str | None = None,
        force: bool = False,
        notify: Mapping[str, Any] | None = None,
    ) -> JobRecord:
        """Record a QUEUED job and start it in the background; raise ConflictError if one runs."""
        name = backend or self._settings.model_backend
        if name not in self._backends:
            raise NotFoundError(f"the {name} tuning backend is not available here")
        if method in GENERATOR_ONLY and task != "generator":
            raise DatasetError(f"{method} tuning applies to the generator only")
        refusal = self._backends[name].refuses(task=task, method=method)
        if refusal is not None:
            raise BackendError(refusal)
        if not await self._store.claim(
            "lease:launch", ttl=timedelta(seconds=60), holder=self._holder
        ):
            raise ConflictError("another launch is in progress; try again in a minute")
        try:
            running = await self._store.running_jobs()
            if running:
                other = running[0]
                raise ConflictError(
                    f"job {other.id} ({other.task} {other.method}) is {other.state}; "
                    "one tuning job runs at a time"
                )
            now = self._store.clock()
            job = JobRecord(
                id=f"job-{now:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}",
                task=task,
                method=method,
                backend=name,
                config=frozen({"force": force, "holder": self._holder}),
                history=(StateChange("QUEUED", now),),
                notify=frozen(notify),
                created_at=now,
                updated_at=now,
            )
            await self._store.save_job(job)
        finally:
            await self._store.release("lease:launch", holder=self._holder)
        log.info("launched job %s: %s %s on %s", job.id, task, method, name)
        await self._log.emit(job)
        self._launched[job.id] = asyncio.Event()
        self._tasks[job.id] = asyncio.create_task(self._drive(job), name=job.id)
        return job

    async def wait(self, job_id: str) -> JobRecord:
        """Wait until the job has ended (following it here if nothing else does); return it."""
        task = self._tasks.get(job_id)
        if task is None:
            job = await self._log.get(job_id)
            if job.ended:
                return job
            task = self._follow_in_background(job)
        await asyncio.shield(task)
        return await self._log.get(job_id)

    async def wait_launched(self, job_id: str) -> JobRecord:
        """Wait until the backend accepted the job (or it ended) and return it."""
        event = self._launched.get(job_id)
        if event is not None:
            done = self._tasks[job_id]
            waiter = asyncio.ensure_future(event.wait())
            await asyncio.wait({waiter, done}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
        return await self._log.get(job_id)

    async def cancel(self, job_id: str) -> JobRecord:
        """Cancel a job that has not ended and return it; an ended job is returned unchanged."""
        job = await self._log.get(job_id)
        if job.ended:
            return job
        backend = self._backends.get(job.backend)
        if job.remote_name and backend is not None:
            await backend.cancel(job=job)
        task = self._tasks.pop(job_id, None)
        if task is not None:
            task.cancel()
            # wait() never raises the task's own cancellation or error, only our caller's
            # cancellation, so cancelling cancel() itself still works.
            await asyncio.wait({task})
            error = None if task.cancelled() else task.exception()
            if error is not None:
                log.warning(
                    "job %s: its task failed as it was cancelled (%s)", job_id, type(error).__name__
                )
        return await self._log.transition(job, "CANCELLED", error="cancelled on request")

    async def resume(self, *, follow: bool = True) -> list[JobRecord]:
        """Pick up unfinished jobs that no task of ours follows; return them.

        ``follow=True`` (a long-running bot) keeps following them in the background;
        ``follow=False`` (a cron tick) checks each once and finishes those that are done.
        """
        picked = []
        for job in await self._store.running_jobs():
            if job.id in self._tasks or job.backend not in self._backends:
                continue
            stale = self._store.clock() - job.updated_at > STALE_AFTER
            if job.remote_name is None or job.backend == "local":
                if not stale:
                    continue  # another process is still driving it
                if job.remote_name is None:
                    picked.append(await self._log.fail(job, "interrupted before it started"))
                    continue
            if follow:
                self._follow_in_background(job)
                picked.append(job)
            else:
                picked.append(await self._follow(job, once=True))
        return picked

    async def close(self) -> None:
        """Stop following jobs and close the backends (jobs stay recorded; ``resume`` goes on)."""
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()
        for name, backend in self._backends.items():
            try:
                await backend.aclose()
            except Exception:  # one backend failing to close must not keep the others open
                log.warning("could not close the %s backend", name, exc_info=True)

    # -- the lifecycle -------------------------------------------------------------------------

    async def _drive(self, job: JobRecord) -> JobRecord:
        try:
            backend = self._backends[job.backend]
            files = await self._export(job, self._datasets.get(job.backend, DatasetConfig()))
            base = await self._store.active_model(task=job.task)
            config = {
                **job.config,
                "dataset_dir": str(self._dataset_dir(job)),
                "base_version": base and base.version,
            }
            job = await self._log.save(job, config=frozen(config), dataset_stats=files.stats)
            checked = await backend.preflight(job=job, dataset=files)
            if checked:
                # Before any money is spent: what the dry run found is on the job for all to see.
                job = await self._log.save(job, config=frozen({**job.config, **checked}))
            remote = await backend.start(job=job, dataset=files, base=base)
            job = await self._log.save(job, remote_name=remote)
            self._launched[job.id].set()
            return await self._follow(job, files=files)
        except asyncio.CancelledError:
            raise
        except SarcasmError as exc:
            return await self._log.fail(job, str(exc))
        except Exception as exc:  # a bug: the job still ends, with a reason, and the log has it
            log.exception("job %s crashed", job.id)
            return await self._log.fail(job, f"internal error ({type(exc).__name__}: {exc})")
        finally:
            if job.id in self._launched:
                self._launched[job.id].set()

    def _follow_in_background(self, job: JobRecord) -> asyncio.Task[JobRecord]:
        task = asyncio.create_task(self._follow_safely(job), name=job.id)
        self._tasks[job.id] = task
        return task

    async def _follow_safely(self, job: JobRecord) -> JobRecord:
        try:
            return await self._follow(job)
        except SarcasmError as exc:
            return await self._log.fail(job, str(exc))

    async def _follow(
        self, job: JobRecord, *, files: DatasetFiles | None = None, once: bool = False
    ) -> JobRecord:
        """Poll the backend, recording each state, until the job ends (or once)."""
        backend = self._backends[job.backend]
        errors = 0
        while True:
            try:
                status = await backend.status(job=job)
                errors = 0
            except SarcasmError as exc:
                errors += 1
                log.warning("job %s: status check failed (%s)", job.id, exc)
                if errors >= MAX_STATUS_ERRORS:
                    return await self._log.fail(job, f"lost track of {job.remote_name}: {exc}")
                status = RemoteStatus(state=job.state)
            job = await self._log.get(job.id)  # another process may have moved it on
            if job.ended or job.state == "EVALUATING":
                return job
            if status.state == "SUCCEEDED":
                return await finish_job(
                    store=self._store,
                    log=self._log,
                    evaluator=self._evaluator,
                    job=job,
                    status=status,
                    validation=await self._validation_file(job),
                    rule=Rule(tolerance=self._settings.promotion_margin),
                    holder=self._holder,
                    calibrate=self._calibrate,
                )
            if status.state != job.state:
                job = await self._log.transition(job, status.state, error=status.error)
                if job.ended:
                    return job
            elif self._store.clock() - job.updated_at > HEARTBEAT:
                job = await self._log.save(job)
            if once:
                return job
            await asyncio.sleep(self._poll.get(job.backend, 30.0))

    async def _validation_file(self, job: JobRecord) -> Path:
        """Return the job's validation split, rebuilt if another process exported it.

        The split is hash-based, so a rebuild holds the same examples plus any newer ones.
        """
        validation = self._dataset_dir(job) / "validation.jsonl"
        if not validation.is_file():
            log.info("job %s: rebuilding its validation split here", job.id)
            await self._export(job, DatasetConfig(min_train=1))
        return validation

    def _dataset_dir(self, job: JobRecord) -> Path:
        return self._settings.data_dir / "datasets" / job.id

    async def _export(self, job: JobRecord, config: DatasetConfig) -> DatasetFiles:
        """Write the job's dataset to its directory, traced by the manifest ``dataset:<job>``.

        ``keep``: a rewrite (the validation split rebuilt by another process) adds to the
        manifest, since the model learnt from the first write.
        """
        return await export_traced(
            self._store,
            name=job.id,
            task=job.task,
            method=job.method,
            out=self._dataset_dir(job),
            data_dir=self._settings.data_dir,
            config=config,
            keep=True,
        )
