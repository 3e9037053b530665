"""Feedback per day and model metrics over time, read from the store, for charts and summaries.

Pure apart from :func:`collect_report`, which reads the store. No Slack code here.

>>> from datetime import date
>>> report = Report(start=date(2026, 11, 24), days=(DayCount(date(2026, 11, 24), 3, 1),))
>>> feedback_totals(report)
(3, 1)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from tuning.evaluation.keys import primary_metric
from tuning.records import TASKS, ModelVersion, Task, utcnow
from tuning.store.base import Store


@dataclass(frozen=True)
class DayCount:
    """Unretracted feedback given on one UTC day, split by rating."""

    day: date
    positive: int
    negative: int


@dataclass(frozen=True)
class MetricPoint:
    """One model version's promotion metric (see :mod:`tuning.evaluation.keys`), when registered."""

    task: Task
    version: str
    metric: str
    value: float
    at: datetime
    state: str


@dataclass(frozen=True)
class Report:
    """Everything the chart and its summary show."""

    start: date
    days: tuple[DayCount, ...] = ()
    points: tuple[MetricPoint, ...] = ()


async def collect_report(store: Store, *, days: int = 30, now: datetime | None = None) -> Report:
    """Read the last ``days`` days of feedback and every registered model's metric."""
    now = now or utcnow()
    start = (now - timedelta(days=days - 1)).date()
    since = datetime.combine(start, datetime.min.time(), tzinfo=now.tzinfo) - timedelta(
        microseconds=1
    )
    counts: Counter[tuple[date, bool]] = Counter()
    async for feedback in store.iter_feedback(since=since):
        counts[(feedback.created_at.date(), feedback.rating > 0)] += 1
    series = tuple(
        DayCount(day, counts[(day, True)], counts[(day, False)])
        for day in (start + timedelta(days=i) for i in range(days))
    )
    points = []
    for task in TASKS:
        for model in await store.list_models(task=task):
            metric = primary_metric(model)
            if metric is not None:
                points.append(
                    MetricPoint(task, model.version, *metric, model.created_at, model.state)
                )
    points.sort(key=lambda p: p.at)
    return Report(start=start, days=series, points=tuple(points))


def feedback_totals(report: Report, *, last_days: int | None = None) -> tuple[int, int]:
    """Return (positive, negative) feedback over the report, or over its last ``last_days``."""
    days = report.days[-last_days:] if last_days else report.days
    return sum(d.positive for d in days), sum(d.negative for d in days)


def summarize(report: Report, *, active: Mapping[Task, ModelVersion | None] | None = None) -> str:
    """Return a few lines of plain text saying what the chart shows."""
    positive, negative = feedback_totals(report)
    week_pos, week_neg = feedback_totals(report, last_days=7)
    total = positive + negative
    lines = [
        f"Feedback over {len(report.days)} days: {total} ratings, "
        f"{positive} positive and {negative} negative"
        + (f" ({positive / total:.0%} positive)." if total else "."),
        f"Last 7 days: {week_pos} positive, {week_neg} negative.",
    ]
    for task in TASKS:
        points = [p for p in report.points if p.task == task]
        if not points:
            lines.append(f"{task.capitalize()}: no evaluated versions yet.")
            continue
        best = max(points, key=lambda p: p.value)
        current = (active or {}).get(task)
        now_text = ""
        if current is not None and (metric := primary_metric(current)) is not None:
            now_text = f"; active {current.version} at {metric[1]:.3f}"
        lines.append(
            f"{task.capitalize()}: {len(points)} versions by {best.metric}, best {best.version} "
            f"at {best.value:.3f}{now_text}."
        )
    return "\n".join(lines)
