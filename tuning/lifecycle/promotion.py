"""The end of a successful job: register the candidate, evaluate it, promote it or keep it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tuning.backends.base import RemoteStatus
from tuning.datasets.export import TRAIN_FEEDBACK
from tuning.errors import SarcasmError
from tuning.evaluation.comparison import Evaluator, evidence_of
from tuning.evaluation.decision import Rule, decide
from tuning.evaluation.keys import HUMAN_FEEDBACK, finite
from tuning.lifecycle.calibration import Calibrate
from tuning.lifecycle.job_log import JobLog
from tuning.lifecycle.registry import promote, register_candidate
from tuning.lifecycle.tracing import WITHHELD_BECAUSE, affected_by, record_candidate
from tuning.records import WITHHELD, Affected, JobRecord, ModelVersion
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
    rule: Rule,
    holder: str,
    calibrate: Calibrate | None = None,
) -> JobRecord:
    """Evaluate a SUCCEEDED job's model against the active one; promote it if ``rule`` says so.

    The rule is :func:`tuning.evaluation.decision.decide`'s. A candidate that is not promoted
    (too little held-out feedback included) is ``kept``: registered, never failed. One whose
    training data was forgotten or expired while it trained (its manifest is affected) is
    ``withheld``: registered and flagged, never promoted.

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
            metrics=finite(
                {**(status.detail.get("metrics") or {}), HUMAN_FEEDBACK: _learnt_from(job)}
            ),
            job_id=job.id,
        ),
    )
    manifest = await record_candidate(store, model, job=job)
    job = await log.transition(job, "EVALUATING", candidate_version=version)
    if manifest.affected:
        return await _withhold(log, job, manifest.affected)
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
    evidence = evidence_of(
        job.task, comparison, candidate_feedback=_learnt_from(job), active=active
    )
    decision = decide(
        evidence, has_active=theirs is not None, rule=rule, force=bool(job.config.get("force"))
    )
    metrics = {
        "key": comparison.key,
        "candidate": candidate,
        "active": theirs,
        "active_version": active.version if active else None,
        "decided_by": evidence.metric,
        "interval": finite(comparison.interval.as_dict()),
        "silenced": list(comparison.silenced),
        "decision": decision.reason,
    }
    job = await log.save(job, metrics=frozen(metrics))
    await log.emit(job)  # "evaluating", now with its metrics
    if decision.promote:
        # Forget-me may have flagged it while it was evaluated.
        affected = await affected_by(store, task=job.task, version=version)
        if affected:
            return await _withhold(log, job, affected)
        await promote(
            store, task=job.task, version=version, actor=f"job {job.id}", reason=decision.reason
        )
    return await log.transition(
        job, "SUCCEEDED", outcome="promoted" if decision.promote else "kept"
    )


async def _withhold(log: JobLog, job: JobRecord, affected: Affected) -> JobRecord:
    """End a job whose candidate holds forgotten or expired data: registered, never promoted."""
    job = await log.save(
        job, metrics=frozen({**job.metrics, "decision": WITHHELD_BECAUSE[affected]})
    )
    return await log.transition(job, "SUCCEEDED", outcome=WITHHELD)


def _learnt_from(job: JobRecord) -> int:
    """Return how much human feedback the job's train split held (its dataset stats)."""
    counts = job.dataset_stats.get("counts") or {}
    return int(counts.get(TRAIN_FEEDBACK, 0))
