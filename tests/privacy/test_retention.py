"""Retention in ``tick`` with an injected clock: old records go from every place, models rebuilt."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.clock import ManualClock
from tests.privacy.conftest import privacy_service
from tests.privacy.jobs import export, retrain, tuning_service
from tests.privacy.world import MARKER, U1, U3, U9, exists, files_under, item, populate
from tuning.config import Settings
from tuning.lifecycle.scheduler import tick
from tuning.models.builders import ensure_active
from tuning.privacy.audit import audit
from tuning.records import TASKS
from tuning.store.sqlite.store import SqliteStore

pytestmark = pytest.mark.slow


@pytest.fixture
def clock() -> ManualClock:
    """The store's clock (tests/conftest.py reads this fixture): moved on, never slept on."""
    return ManualClock()


async def add_recent(store: SqliteStore, clock: ManualClock, n: int = 6) -> set[str]:
    """Store ``n`` rated flags and replies of U9's, created now."""
    ids = set()
    for i in range(n):
        flag = item(
            f"new-f{i}",
            "classify",
            f"What a delight, standup ran long ({i}).",
            "sarcastic",
            user=U9,
            at=clock.now,
        )
        reply = item(
            f"new-g{i}",
            "generate",
            f"@bot is lunch here yet? ({i})",
            f"Sure ({i}).",
            user=U9,
            at=clock.now,
        )
        for record in (flag, reply):
            await store.add_interaction(record)
            await store.add_feedback(interaction_id=record.id, user=U3, reaction="r", rating=1)
            ids.add(record.id)
    return ids


async def test_tick_expires_old_records_everywhere_and_rebuilds_the_models_built_on_them(
    sqlite_store: SqliteStore, settings: Settings, clock: ManualClock
) -> None:
    store = sqlite_store
    await populate(store, start=clock.now - timedelta(hours=1))
    await ensure_active(settings=settings, store=store)
    service = tuning_service(store, settings)
    for task in TASKS:
        assert (await retrain(service, store, task)).state == "SUCCEEDED"
    old = {task: await store.active_model(task=task) for task in TASKS}
    out = settings.data_dir / "exports" / "cls"
    assert await export(settings, "classifier", out) == 0
    privacy = privacy_service(store, settings)

    early = await tick(service, store, [], holder="t", privacy=privacy)
    assert early.retention is not None
    assert early.retention.records.total == 0  # nothing is old yet
    assert exists(out)

    clock.advance(timedelta(days=settings.retention_days, hours=2))
    recent = await add_recent(store, clock)
    result = await tick(service, store, [], holder="t", privacy=privacy)

    assert result.retention is not None
    assert result.retention.records.interactions > 0
    assert {r.task for r in result.retention.cleanup.rebuilt} == set(TASKS)
    assert {i.id async for i in store.iter_interactions()} == recent
    assert [f async for f in store.iter_feedback() if f.interaction_id not in recent] == []
    assert not exists(out)
    assert files_under(settings.data_dir / "datasets") == []
    for task, model in old.items():
        assert model is not None
        assert not exists(model.artifact)
        active = await store.active_model(task=task)
        assert active is not None
        assert active.version != model.version
        manifest = await store.get_manifest(f"model:{task}:{active.version}")
        assert manifest is not None
        assert manifest.oldest is not None
        assert manifest.oldest >= clock.now - timedelta(days=settings.retention_days)
    old_texts = [MARKER, "in Oslo"]
    assert (await audit(store, user=U1, data_dir=settings.data_dir, texts=old_texts)).clean

    again = await tick(service, store, [], holder="t", privacy=privacy)  # cheap: nothing is due
    assert again.retention is not None
    assert again.retention.records.total == 0
    assert not again.retention.cleanup.touched
    await service.close()
