"""Records for admin tests: models, jobs and dashboards with realistic, varied content."""

from __future__ import annotations

from datetime import timedelta

from tuning.evaluation.keys import ACCURACY, F1, QUALITY, REWARD_WIN_RATE
from tuning.records import ChannelSettings, JobRecord, ModelVersion, StateChange, utcnow
from tuning.reporting.dashboard import Dashboard
from tuning.reporting.reports import DayCount, Report


def model(
    task: str = "classifier", version: str = "c1", state: str = "active", **kw: object
) -> ModelVersion:
    metrics = kw.pop("metrics", None) or (
        {F1: 0.8, ACCURACY: 0.82}
        if task == "classifier"
        else {"n_pairs": 40.0, REWARD_WIN_RATE: 0.6, QUALITY: 0.55}
    )
    return ModelVersion(
        task=task,  # type: ignore[arg-type]
        version=version,
        backend="local",
        artifact=f"/tmp/{version}.skops",
        metrics=metrics,  # type: ignore[arg-type]
        state=state,  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def job(job_id: str = "j1", state: str = "SUCCEEDED", **kw: object) -> JobRecord:
    fields: dict[str, object] = {
        "task": "classifier",
        "method": "sft",
        "backend": "local",
        "state": state,
        "history": (StateChange(state, utcnow()),),  # type: ignore[arg-type]
    }
    fields.update(kw)
    return JobRecord(id=job_id, **fields)  # type: ignore[arg-type]


def dashboard(
    *, jobs: int = 3, candidates: int = 2, channels: int = 2, text: str = ""
) -> Dashboard:
    now = utcnow()
    return Dashboard(
        active={"classifier": model(), "generator": model("generator", "g1")},
        candidates=tuple(
            model("classifier", f"c{i + 2}{text}", "candidate") for i in range(candidates)
        ),
        running=(job("run1", "RUNNING"),),
        recent_jobs=tuple(
            job(f"j{i}", "FAILED", error=text or "boom", outcome="failed") for i in range(jobs)
        ),
        feedback_since_last_job=7,
        last_job_at=now - timedelta(hours=1),
        week=Report(
            start=(now - timedelta(days=6)).date(),
            days=tuple(DayCount((now - timedelta(days=6 - i)).date(), i, 1) for i in range(7)),
        ),
        channels=tuple(ChannelSettings(channel=f"C{i}") for i in range(channels)),
    )
