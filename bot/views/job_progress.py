"""Messages that report a tuning job's progress: queued, running, evaluating, and how it ended."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from bot.views.format import first_line, metrics_text
from tuning.records import WITHHELD, JobRecord

STAGES = ("queued", "running", "evaluating", "ended")


def stage_of(job: JobRecord) -> str:
    """Return the progress stage a job state belongs to (Vertex's PENDING counts as queued)."""
    if job.ended:
        return "ended"
    return {"RUNNING": "running", "EVALUATING": "evaluating"}.get(job.state, "queued")


def console_url(job: JobRecord) -> str | None:
    """Return the Cloud console page of a Vertex tuning job, or None for other backends."""
    name = job.remote_name or ""
    parts = name.split("/")
    # projects/P/locations/L/tuningJobs/ID, as google-genai returns it in TuningJob.name.
    if job.backend != "vertex" or len(parts) != 6 or parts[4] != "tuningJobs":
        return None
    project, location, job_id = parts[1], parts[3], parts[5]
    return (
        "https://console.cloud.google.com/vertex-ai/generative/language/locations/"
        f"{quote(location)}/tuning/tuningJob/{quote(job_id)}?project={quote(project)}"
    )


def build_progress_text(job: JobRecord) -> str:
    """Return the one progress line for the job's current stage."""
    what = f"{job.task} {job.method} job `{job.id}`"
    stage = stage_of(job)
    if stage == "queued":
        return f":hourglass_flowing_sand: Queued the {what} on {job.backend}."
    if stage == "running":
        link = console_url(job)
        where = f" on Vertex AI: <{link}|console>" if link else f" on {job.backend}"
        return f":gear: The {what} is running{where}."
    if stage == "evaluating":
        return f":bar_chart: Evaluated the {what}: {comparison_text(job.metrics)}."
    return _ended_text(job, what)


def comparison_text(metrics: Mapping[str, Any]) -> str:
    """Return "key 0.812 vs active 0.790" from TuningService's metrics, or the metrics as they are.

    TuningService stores ``{"key", "candidate": {...}, "active": {...} | None, "decision"}``.
    """
    key, candidate = metrics.get("key"), metrics.get("candidate")
    if not isinstance(key, str) or not isinstance(candidate, Mapping):
        return metrics_text(metrics)
    ours = candidate.get(key)
    active = metrics.get("active")
    theirs = active.get(key) if isinstance(active, Mapping) else None
    text = f"{key} {ours:.3f}" if isinstance(ours, int | float) else f"{key} not measured"
    if isinstance(theirs, int | float):
        text += f" vs active {theirs:.3f}"
    others = {k: v for k, v in candidate.items() if k not in (key, "n")}
    if others:
        text += f" ({metrics_text(others, limit=4)})"
    return text


def _ended_text(job: JobRecord, what: str) -> str:
    version = f" `{job.candidate_version}`" if job.candidate_version else ""
    decision = job.metrics.get("decision")
    why = decision if isinstance(decision, str) else comparison_text(job.metrics)
    why = f" ({why})" if job.metrics else ""
    if job.outcome == "promoted":
        return f":tada: Promoted{version} from the {what}{why}."
    if job.outcome == WITHHELD:  # its training data was forgotten or expired as it trained
        return f":no_entry: Withheld{version} from the {what}{why}."
    if job.outcome == "kept":
        hint = (
            f" `/sarcasm promote {job.task} {job.candidate_version}` uses it anyway."
            if job.candidate_version
            else ""
        )
        return f":package: Kept{version} as a candidate from the {what}{why}.{hint}"
    reason = first_line(job.error or job.state.lower())
    return f":x: The {what} failed: {reason}"
