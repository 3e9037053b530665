"""Generator SFT and preference tuning on the local backend, end to end through the service."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tuning_loop.conftest import Recorder
from tests.tuning_loop.factories import add_replies
from tuning.config import Settings
from tuning.lifecycle.service import TuningService
from tuning.models.local_generator import LocalGenerator
from tuning.models.serving import LiveModels
from tuning.reporting.reports import collect_report
from tuning.store.sqlite.store import SqliteStore

pytestmark = pytest.mark.slow


async def test_generator_sft_then_preference(
    service: tuple[TuningService, Recorder], sqlite_store: SqliteStore, loop_settings: Settings
) -> None:
    svc, _ = service
    live = await LiveModels.start(settings=loop_settings, store=sqlite_store)
    await add_replies(sqlite_store, 120)

    sft = await svc.wait((await svc.launch(task="generator", method="sft", force=True)).id)
    assert sft.state == "SUCCEEDED", sft.error
    assert sft.outcome == "promoted"
    assert set(sft.metrics["candidate"]) >= {
        "sarcasm_rate",
        "relevance",
        "distinct_2",
        "reward_win_rate",
        "quality",
    }
    assert sft.metrics["decision"].startswith("forced")
    assert await live.refresh()
    assert live.versions["generator"] == sft.candidate_version

    pref = await svc.wait((await svc.launch(task="generator", method="preference")).id)
    assert pref.state == "SUCCEEDED", pref.error
    assert pref.dataset_stats["counts"]["train"] > 0
    assert "preference_accuracy" in pref.metrics["candidate"]
    model = await sqlite_store.get_model(task="generator", version=pref.candidate_version or "")
    assert model is not None
    generator = LocalGenerator.load(Path(model.artifact))
    assert generator.reward.n_pairs == pref.dataset_stats["counts"]["train"]
    # The preferences (sarcastic retry over a flat first reply) are learnt from, not invented.
    assert pref.metrics["candidate"]["preference_accuracy"] >= 0.5
    # The chart shows each version by the very number its promotion decision was made on.
    charted = {p.version: (p.metric, p.value) for p in (await collect_report(sqlite_store)).points}
    for done in (sft, pref):
        key = done.metrics["key"]
        assert charted[done.candidate_version or ""] == (key, done.metrics["candidate"][key])
    await live.close()
