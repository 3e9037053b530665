"""The stats report read from each store, its summary, and the PNG chart."""

from __future__ import annotations

import asyncio
import struct
from datetime import timedelta

from tests.admin.builders import model
from tuning.evaluation.keys import PRIMARY_METRIC, primary_metric
from tuning.records import Interaction, utcnow
from tuning.reporting.chart import render_chart
from tuning.reporting.reports import collect_report, feedback_totals, summarize
from tuning.store.base import Store


async def _seed(store: Store) -> None:
    for i in range(4):
        await store.add_interaction(
            Interaction(
                id=f"i{i}",
                team="T",
                channel="C1",
                ts=f"1.{i}",
                kind="generate",
                input_text="so great",
                output="sure",
                model_version="g1",
                user="U1",
            )
        )
    await store.add_feedback(interaction_id="i0", user="U2", reaction="+1", rating=1)
    await store.add_feedback(interaction_id="i1", user="U2", reaction="+1", rating=1)
    await store.add_feedback(interaction_id="i2", user="U3", reaction="-1", rating=-1)
    await store.add_feedback(interaction_id="i3", user="U3", reaction="-1", rating=-1)
    await store.retract_feedback(interaction_id="i3", user="U3", reaction="-1")
    await store.add_model(model("classifier", "c1", "candidate"))
    await store.promote(task="classifier", version="c1")
    await store.add_model(
        model("classifier", "c2", "candidate", created_at=utcnow() + timedelta(seconds=1))
    )


async def test_report_counts_unretracted_feedback_by_day_and_rating(store: Store) -> None:
    await _seed(store)
    report = await collect_report(store, days=30)
    assert len(report.days) == 30
    assert report.days[-1].day == utcnow().date()
    assert feedback_totals(report) == (2, 1)
    assert feedback_totals(report, last_days=7) == (2, 1)
    assert [(p.version, p.metric, p.value) for p in report.points] == [
        ("c1", "f1", 0.8),
        ("c2", "f1", 0.8),
    ]
    text = summarize(report, active={"classifier": await store.active_model(task="classifier")})
    assert "3 ratings, 2 positive and 1 negative (67% positive)" in text
    assert "active c1 at 0.800" in text
    assert "Generator: no evaluated versions yet." in text


async def test_chart_is_a_png_rendered_off_the_loop(sqlite_store: Store) -> None:
    await _seed(sqlite_store)
    report = await collect_report(sqlite_store, days=30)
    png = await asyncio.to_thread(render_chart, report)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (800, 600)


async def test_empty_store_still_charts_and_summarizes(sqlite_store: Store) -> None:
    report = await collect_report(sqlite_store, days=7)
    assert feedback_totals(report) == (0, 0)
    assert render_chart(report)[:4] == b"\x89PNG"
    assert "0 ratings" in summarize(report)


async def test_the_chart_shows_each_task_by_the_metric_promotion_uses(sqlite_store: Store) -> None:
    # A generator judged on quality must not be charted by another of its metrics.
    await sqlite_store.add_model(model("classifier", "c1", "candidate"))
    await sqlite_store.add_model(model("generator", "g1", "candidate"))
    report = await collect_report(sqlite_store, days=7)
    shown = {p.task: (p.metric, p.value) for p in report.points}
    assert shown == {
        "classifier": (PRIMARY_METRIC["classifier"], 0.8),
        "generator": (PRIMARY_METRIC["generator"], 0.55),
    }
    assert primary_metric(model("generator", "g1")) == ("quality", 0.55)
    assert "Generator: 1 versions by quality, best g1 at 0.550." in summarize(report)
