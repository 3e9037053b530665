"""Render a :class:`~tuning.reporting.reports.Report` as a PNG with matplotlib's Agg canvas.

A ``Figure`` with an explicit Agg canvas touches no pyplot global state, so it is safe in a
worker thread; callers in async code run :func:`render_chart` with ``asyncio.to_thread``.
"""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tuning.records import TASKS
from tuning.reporting.reports import Report

_COLORS = {
    "positive": "#2eb67d",
    "negative": "#e01e5a",
    "classifier": "#1264a3",
    "generator": "#ecb22e",
}


def render_chart(report: Report, *, dpi: int = 100) -> bytes:
    """Return PNG bytes: feedback per day by rating, and each version's metric over time."""
    figure = Figure(figsize=(8, 6), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    feedback_axes, metric_axes = figure.subplots(2, 1)
    days = [d.day for d in report.days]
    positive = [d.positive for d in report.days]
    negative = [d.negative for d in report.days]
    feedback_axes.bar(days, positive, color=_COLORS["positive"], label="positive")
    feedback_axes.bar(days, negative, bottom=positive, color=_COLORS["negative"], label="negative")
    feedback_axes.set_title(f"Feedback per day (last {len(days)} days)")
    feedback_axes.set_ylabel("ratings")
    feedback_axes.legend(loc="upper left")
    feedback_axes.tick_params(axis="x", labelrotation=45, labelsize=7)
    for task in TASKS:
        points = [p for p in report.points if p.task == task]
        if not points:
            continue
        metric_axes.plot(
            [p.at for p in points],
            [p.value for p in points],
            marker="o",
            color=_COLORS[task],
            label=f"{task} ({points[-1].metric})",
        )
        for point in points:
            if point.state == "active":
                metric_axes.annotate(point.version, (point.at, point.value), fontsize=7)
    metric_axes.set_title("Validation metric per model version")
    metric_axes.set_ylim(0, 1.05)
    if report.points:
        metric_axes.legend(loc="lower right")
    else:
        metric_axes.text(0.5, 0.5, "no evaluated versions yet", ha="center", va="center")
    metric_axes.tick_params(axis="x", labelrotation=45, labelsize=7)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
