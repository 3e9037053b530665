"""Short text for models, jobs and metrics, shared by the status, Home and progress views."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from tuning.evaluation.keys import PRIMARY_METRIC
from tuning.records import JobRecord, ModelVersion
from tuning.reporting.dashboard import FlaggedModel

STATE_EMOJI = {
    "QUEUED": ":hourglass_flowing_sand:",
    "PENDING": ":hourglass_flowing_sand:",
    "RUNNING": ":gear:",
    "EVALUATING": ":bar_chart:",
    "SUCCEEDED": ":white_check_mark:",
    "FAILED": ":x:",
    "CANCELLED": ":no_entry_sign:",
    "EXPIRED": ":hourglass:",
}


MAX_FLAGGED = 10  # listed versions; a section holds 3,000 characters


def when(at: datetime | None) -> str:
    """Return a timestamp as short UTC text."""
    return at.strftime("%Y-%m-%d %H:%M UTC") if at else "never"


def number(value: float) -> str:
    """Return a count as a whole number and anything else with three decimals.

    >>> number(446.0), number(0.5523)
    ('446', '0.552')
    """
    return f"{value:.0f}" if float(value).is_integer() and abs(value) >= 1 else f"{value:.3f}"


def metrics_text(metrics: Mapping[str, Any], *, limit: int = 6) -> str:
    """Return up to ``limit`` numeric metrics as `name 0.123`, flattening one level of nesting."""
    parts: list[str] = []
    for name, value in metrics.items():
        if isinstance(value, Mapping):
            parts.extend(
                f"{name} {inner} {number(v)}"
                for inner, v in value.items()
                if isinstance(v, int | float) and not isinstance(v, bool)
            )
        elif isinstance(value, int | float) and not isinstance(value, bool):
            parts.append(f"{name} {number(value)}")
    return ", ".join(parts[:limit]) if parts else "no metrics"


def model_line(model: ModelVersion | None, task: str) -> str:
    """Return one line describing a task's model, the metric that promoted it first."""
    if model is None:
        return f"*{task.capitalize()}*: none active"
    key = PRIMARY_METRIC[model.task]
    first = {key: model.metrics[key]} if key in model.metrics else {}
    shown = metrics_text(first | dict(model.metrics))
    return f"*{task.capitalize()}*: `{model.version}` ({model.backend}), {shown}"


def job_line(job: JobRecord) -> str:
    """Return one line describing a job: what, where, state and result."""
    emoji = STATE_EMOJI.get(job.state, ":grey_question:")
    line = (
        f"{emoji} `{job.id}` {job.task} {job.method} on {job.backend}: *{job.state.lower()}*"
        f" ({when(job.created_at)})"
    )
    if job.outcome:
        line += f", {job.outcome}"
        if job.candidate_version:
            line += f" `{job.candidate_version}`"
    if job.error:
        line += f". {first_line(job.error)}"
    return line


def first_line(text: str, limit: int = 200) -> str:
    """Return the first line of ``text``, clipped, for showing an error to a user."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def flagged_text(flagged: Sequence[FlaggedModel]) -> str:
    """Return the tuned versions that hold forgotten or expired data, with what to do about it.

    >>> flagged_text([FlaggedModel("generator", "tuned-3", "vertex", "forgotten", True)])[:60]
    ':warning: *Holds forgotten or expired data* (a tuned model c'
    """
    if not flagged:
        return ""
    why = {"forgotten": "a user asked to be forgotten", "expired": "past the retention window"}
    lines = [
        f"`{m.version}` {m.task} ({m.backend}{', active' if m.active else ''}): "
        f"{why.get(m.affected, m.affected)}"
        for m in flagged[:MAX_FLAGGED]
    ]
    if len(flagged) > MAX_FLAGGED:
        lines.append(f"and {len(flagged) - MAX_FLAGGED} more")
    return (
        ":warning: *Holds forgotten or expired data* (a tuned model cannot be untrained): "
        "retrain with `/sarcasm retrain <task>`, promote the new version, then delete these "
        "in the cloud console.\n" + "\n".join(lines)
    )


def pending_text(reasons: Sequence[str]) -> str:
    """Return how many deletions are still pending and why, or "" when none are.

    >>> pending_text(["GCS refused access (403)", "GCS refused access (403)"])[:38]
    ':warning: *2 deletions pending* (forge'
    """
    if not reasons:
        return ""
    why = "; ".join(dict.fromkeys(reasons[:MAX_FLAGGED]))
    return (
        f":warning: *{len(reasons)} deletion{'s' if len(reasons) != 1 else ''} pending* "
        f"(forget-me or retention; retried every tick): {why}"
    )
