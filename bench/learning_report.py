"""Learning curves of ``bench_learning``: the points, the targets, and how they are shown.

Pure apart from :func:`save_png` (matplotlib, Agg). The targets are issue 10's.

>>> gain = PairedDiff(0.2, 0.05, 0.1, 0.3)
>>> flat = Curve("t", "share", [Point(0, 0.2), Point(200, 0.4, vs_start=gain)])
>>> [t.met for t in taste_targets([flat], at=200)]
[True]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.learning_stats import Z95, PairedDiff

TASTE_GAIN, PAIRS, F1_GAIN = 0.15, 20, 0.03


@dataclass
class Point:
    """One point of a learning curve: after ``reactions``, the metric and what the jobs did."""

    reactions: int
    value: float
    vs_start: PairedDiff | None = None
    vs_previous: PairedDiff | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    jobs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def promoted(self) -> bool:
        """Return whether a job of this round promoted its candidate."""
        return any(job["outcome"] == "promoted" for job in self.jobs)


@dataclass
class Curve:
    """One experiment's learning curve."""

    name: str
    metric: str
    points: list[Point] = field(default_factory=list)
    note: str = ""


def job_summary(job: dict[str, Any]) -> dict[str, Any]:
    """Return what the report needs of a job the CLI printed: outcome, decision, examples."""
    counts = (job.get("dataset_stats") or {}).get("counts") or {}
    examples = counts.get("train", 0) + counts.get("validation", 0) if counts else None
    if examples is None:
        found = re.search(r"(\d+) training examples", str(job.get("error") or ""))
        examples = int(found.group(1)) if found else None
    metrics = job.get("metrics") or {}
    return {
        "task": job.get("task"),
        "method": job.get("method"),
        "outcome": job.get("outcome") or job.get("state"),
        "examples": examples,
        "why": metrics.get("decision") or job.get("error") or "",
    }


@dataclass(frozen=True)
class Target:
    """One of the issue's targets, and whether this run met it."""

    what: str
    met: bool
    got: str


def at_or_after(curve: Curve, reactions: int) -> Point | None:
    """Return the first point at or after ``reactions``, else the last (None if no rounds)."""
    rounds = curve.points[1:]
    return next((p for p in rounds if p.reactions >= reactions), rounds[-1] if rounds else None)


def taste_targets(curves: Sequence[Curve], *, at: int) -> list[Target]:
    """Return the +0.15 taste-share target per generator curve."""
    found = []
    for curve in curves:
        point = at_or_after(curve, at)
        d = point.vs_start if point else None
        got = (
            f"{d.diff:+.3f} (SE {d.se:.3f}) after {point.reactions}" if point and d else "no rounds"
        )
        found.append(
            Target(
                f"{curve.name}: taste share +{TASTE_GAIN} after {at}",
                bool(d and d.diff >= TASTE_GAIN),
                got,
            )
        )
    return found


def pair_target(curves: Sequence[Curve]) -> Target:
    """Return the >= 20 preference pairs target: the most pairs any preference job saw."""
    counts = [p.extra.get("pairs_in_job") or 0 for c in curves for p in c.points]
    best = max(counts, default=0)
    return Target(f">= {PAIRS} preference pairs in a preference job", best >= PAIRS, str(best))


def f1_target(curve: Curve, *, at: int) -> Target:
    """Return the classifier target: flag F1 up >= 0.03, its 95% interval above 0."""
    point = at_or_after(curve, at)
    d = point.vs_start if point else None
    if point is None or d is None:
        return Target(
            f"classifier F1 +{F1_GAIN} after {at} labels", False, curve.note or "no rounds"
        )
    met = d.diff >= F1_GAIN and d.beyond_noise
    got = (
        f"{d.diff:+.3f} (SE {d.se:.3f}, 95% [{d.low:+.3f}, {d.high:+.3f}]) after {point.reactions}"
    )
    return Target(f"classifier F1 +{F1_GAIN} after {at} labels, beyond noise", met, got)


def harmful_promotions(curves: Sequence[Curve]) -> list[str]:
    """Return each round where a promotion left its metric worse than before beyond noise."""
    return [
        f"{c.name} round ending at {p.reactions}: {p.vs_previous.diff:+.3f}"
        for c in curves
        for p in c.points
        if p.promoted and p.vs_previous is not None and p.vs_previous.worse_beyond_noise
    ]


def render(curve: Curve) -> list[str]:
    """Return a curve as printed lines: one row per point, its jobs beneath."""
    lines = [f"== {curve.name}: {curve.metric}"]
    if curve.note:
        return [*lines, f"   {curve.note}"]
    lines.append(
        f"   {'after':>6} {'value':>7} {'vs start':>9} {'SE':>6} {'95% interval':>17}  other"
    )
    for p in curve.points:
        d = p.vs_start
        diff = f"{d.diff:+9.3f} {d.se:6.3f} [{d.low:+.3f}, {d.high:+.3f}]" if d else " " * 34
        lines.append(f"   {p.reactions:>6} {p.value:7.3f} {diff}  {_others(p.extra)}")
        for job in p.jobs:
            why = re.sub(r"\s+", " ", str(job["why"]))[:110]
            lines.append(f"          job {job['task']} {job['method']}: {job['outcome']}; {why}")
        for name, value in p.extra.items():
            if isinstance(value, dict) and not _is_diff(value):
                lines.append(f"          {name.replace('_', ' ')}: {_others(value)}")
    return lines


def _others(extra: dict[str, Any]) -> str:
    """Return the scalar and paired-difference extras of a point as one line."""
    return ", ".join(
        f"{k} {_short(v)}" for k, v in extra.items() if not isinstance(v, dict) or _is_diff(v)
    )


def _is_diff(value: dict[str, Any]) -> bool:
    return {"diff", "se"} <= value.keys()


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return f"{value['diff']:+.3f} (SE {value['se']:.3f})"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def classifier_summary(curve: Curve, *, at: int) -> str:
    """Return the classifier's label F1 (own threshold) and ROC AUC gains vs the start, with SEs.

    The label is what ``tuning classify`` prints: the model's stored threshold, not the
    channel's. Reported beside the flag-F1 target, not as one (the issue sets none for it).

    >>> d = {"diff": 0.04, "se": 0.01}
    >>> c = Curve("classifier", "", [Point(0, 0.2), Point(300, 0.2, extra={
    ...     "label_f1": 0.42, "label_f1_vs_start": d, "roc_auc": 0.6, "auc_vs_start": d})])
    >>> for part in classifier_summary(c, at=300).split("; "):
    ...     print(part)
    label F1 at the model threshold 0.420, +0.040 (SE 0.010)
    ROC AUC 0.600, +0.040 (SE 0.010)
    after 300
    """
    point = at_or_after(curve, at)
    if point is None or "label_f1_vs_start" not in point.extra:
        return curve.note or "no rounds"
    e = point.extra
    return (
        f"label F1 at the model threshold {e['label_f1']:.3f}, {_short(e['label_f1_vs_start'])}; "
        f"ROC AUC {e['roc_auc']:.3f}, {_short(e['auc_vs_start'])}; after {point.reactions}"
    )


def to_json(
    curves: Sequence[Curve], targets: Sequence[Target], harmful: list[str], summary: str = ""
) -> dict[str, Any]:
    """Return the whole run as JSON-ready data."""
    return {
        "curves": [asdict(c) for c in curves],
        "classifier": summary,
        "targets": [asdict(t) for t in targets],
        "harmful_promotions": harmful,
    }


def save_png(curves: Sequence[Curve], path: Path) -> None:
    """Draw the taste shares, the classifier's scores and the pairs, and save them to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tastes = [c for c in curves if c.name != "classifier" and c.points]
    classifier = next((c for c in curves if c.name == "classifier" and c.points), None)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for c in tastes:
        xs = [p.reactions for p in c.points]
        axes[0].plot(xs, [p.value for p in c.points], marker="o", label=c.name)
        pairs = [p.extra.get("pairs_in_job") or 0 for p in c.points]
        axes[2].plot(xs, pairs, marker="o", label=f"{c.name}: in the preference job")
        by_users = [p.extra.get("pairs_by_users") or 0 for p in c.points]
        axes[2].plot(xs, by_users, linestyle="--", label=f"{c.name}: implied by ratings")
    axes[0].set(title="Held-out replies matching the taste", xlabel="reactions", ylabel="share")
    if classifier is not None:
        xs = [p.reactions for p in classifier.points]
        flag = "flag F1 at the channel's threshold"
        axes[1].plot(xs, [p.value for p in classifier.points], marker="o", label=flag)
        for key, gain, marker, label in (
            ("label_f1", "label_f1_vs_start", "s", "label F1 at the model's own threshold"),
            ("roc_auc", "auc_vs_start", "^", "ROC AUC"),
        ):
            # Error bars: 1.96 x the paired SE of the gain vs round 0 (none at round 0).
            spread = [
                Z95 * p.extra[gain]["se"] if gain in p.extra else 0.0 for p in classifier.points
            ]
            axes[1].errorbar(
                xs, [p.extra[key] for p in classifier.points], yerr=spread, marker=marker,
                capsize=3, label=label,
            )  # fmt: skip
        floor = classifier.points[0].extra.get("all_sarcastic_f1")
        if floor is not None:
            axes[1].axhline(floor, color="grey", linestyle="--", label="F1 labelling all sarcastic")
        kept = [p for p in classifier.points if "kept_candidate" in p.extra]
        if kept:  # what promotion turned down, on the same held-out tweets
            kept_xs = [p.reactions for p in kept]
            for key, marker in (("label_f1", "s"), ("roc_auc", "^")):
                ys = [p.extra["kept_candidate"][key] for p in kept]
                name = f"kept candidate: {key.replace('_', ' ')}"
                axes[1].plot(kept_xs, ys, marker=marker, linestyle=":", label=name)
    axes[1].set(title="Classifier on held-out tweets", xlabel="labelled reactions")
    axes[1].set_ylim(0.0, 0.95)  # headroom above the curves for the legend
    axes[2].set(title="Preference pairs", xlabel="reactions", ylabel="pairs")
    axes[2].set_ylim(bottom=0)
    for ax in axes:
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
