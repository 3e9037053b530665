"""The end of a successful job: register the candidate, evaluate it, promote it or keep it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tuning.backends.base import RemoteStatus
from tuning.errors import SarcasmError
from tuning.evaluation.comparison import Evaluator
from tuning.evaluation.keys import finite
from tuning.evaluation.metrics import decide
from tuning.lifecycle.calibration import Calibrate
from tuning.lifecycle.job_log import JobLog
from tuning.lifecycle.registry import promote, register_candidate
from tuning.records import JobRecord, ModelVersion
from tuning.records import frozen_mapping as frozen
from tuning.store.base import Store


async def finish_job(
    *,
    store: Store,
    log: JobLog,
    evaluator: Evaluator,
    job: JobRecord,
    status: RemoteStatus,
    validation: Path,
    margin: float,
    holder: str,
    calibrate: Calibrate | None = None,
) -> JobRecord:
    """Evaluate a SUCCEEDED job's model against the active one and promote it if it wins.

    Exactly one process finishes a job (a store claim); the others return it as it is.
    ``calibrate`` first fits the candidate's label probabilities on the same validation split.
    """
    if not await store.claim(f"finish:{job.id}", ttl=timedelta(hours=1), holder=holder):
        return job
    version = str(status.detail.get("version") or f"{job.task[:3]}-{job.id.removeprefix('job-')}")
    model = await register_candidate(
        store,
        ModelVersion(
            task=job.task,
            version=version,
            backend=job.backend,
            artifact=status.artifact or "",
            metrics=finite(status.detail.get("metrics") or {}),
            job_id=job.id,
        ),
    )
    job = await log.transition(job, "EVALUATING", candidate_version=version)
    active = await store.active_model(task=job.task)
    try:
        if calibrate is not None:
            model = await calibrate(model, validation)
        comparison = await evaluator.compare(
            task=job.task, method=job.method, candidate=model, active=active, validation=validation
        )
    except SarcasmError as exc:
        return await log.fail(job, f"evaluation failed: {exc}")
    # Decide on exactly the numbers that are stored and shown: NaN ("not measured") left out.
    candidate = finite(comparison.candidate)
    theirs = finite(comparison.active) if comparison.active is not None else None
    await store.update_model_metrics(task=job.task, version=version, metrics=candidate)
    decision = decide(
        comparison.key, candidate, theirs, margin=margin, force=bool(job.config.get("force"))
    )
    metrics = {
        "key": comparison.key,
        "candidate": candidate,
        "active": theirs,
        "active_version": active.version if active else None,
        "decision": decision.reason,
    }
    job = await log.save(job, metrics=frozen(metrics))
    await log.emit(job)  # "evaluating", now with its metrics
    if decision.promote:
        await promote(
            store, task=job.task, version=version, actor=f"job {job.id}", reason=decision.reason
        )
    return await log.transition(
        job, "SUCCEEDED", outcome="promoted" if decision.promote else "kept"
    )
