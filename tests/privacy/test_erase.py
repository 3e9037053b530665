"""Forget-me on SQLite with manifests put in by hand: datasets, uploads, local and Vertex models."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.privacy.conftest import privacy_service
from tests.privacy.world import MARKER, U1, exists, populate
from tuning.cloud.uploads import LocalDirUploader
from tuning.config import Settings
from tuning.errors import NotFoundError
from tuning.models.builders import build_from_base, ensure_active, register
from tuning.models.serving import LiveModels
from tuning.privacy.audit import audit
from tuning.privacy.reports import Flagged
from tuning.records import Manifest, ModelVersion
from tuning.reporting.dashboard import FlaggedModel, flagged_models
from tuning.store.base import Store
from tuning.store.sqlite.store import SqliteStore


@pytest.fixture
def store(sqlite_store: SqliteStore) -> Store:
    return sqlite_store


def dataset(settings: Settings, name: str, ids: set[str], text: str) -> tuple[Path, Manifest]:
    """Write a dataset directory holding ``text`` and return it with its manifest."""
    folder = (settings.data_dir / "datasets" / name).resolve()
    folder.mkdir(parents=True)
    (folder / "train.jsonl").write_text(f'{{"text": "{text}"}}\n', encoding="utf-8")
    return folder, Manifest(
        id=f"dataset:{name}",
        kind="dataset",
        task="generator",
        record_ids=frozenset(ids),
        locations=(str(folder),),
    )


async def test_an_unknown_user_deletes_nothing_and_says_so(
    store: Store, settings: Settings
) -> None:
    await populate(store)
    folder, manifest = dataset(settings, "job-1", {"u1g0", "u9g0"}, MARKER)
    await store.put_manifest(manifest)
    before = [i.id async for i in store.iter_interactions()]

    report = await privacy_service(store, settings).forget_user(user="U404")

    assert not report.found
    assert report.lines() == ["Nothing stored for U404: nothing was deleted."]
    assert [i.id async for i in store.iter_interactions()] == before
    assert folder.is_dir()
    assert await store.get_manifest(manifest.id) == manifest


async def test_forget_deletes_the_datasets_and_uploads_that_hold_the_user_and_no_others(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    world = await populate(store)
    mine, manifest = dataset(settings, "job-1", {"u1g3", "u9g3"}, MARKER)
    uploads = LocalDirUploader(tmp_path / "uploads")
    copy = await uploads.upload(mine / "train.jsonl")
    await store.put_manifest(dataclasses.replace(manifest, locations=(*manifest.locations, copy)))
    theirs, clean = dataset(settings, "job-2", {"u9g3", "u9g4"}, "Oslo")
    await store.put_manifest(clean)
    service = privacy_service(store, settings, uploads)

    report = await service.forget_user(user=U1)

    assert report.records.interactions == len(world.u1_ids)
    assert report.cleanup.dataset_locations == 2
    assert not exists(mine)
    assert not exists(copy)
    assert await store.get_manifest(manifest.id) is None  # nothing of it is left to trace
    assert exists(theirs)
    assert await store.get_manifest(clean.id) == clean
    remaining = {i.id async for i in store.iter_interactions()}
    assert world.others <= remaining
    assert not remaining & world.u1_ids
    assert (await audit(store, user=U1, data_dir=settings.data_dir, texts=[MARKER])).clean
    # The actor of what U1 only caused is cleared, the record kept.
    kept = [await store.get_interaction(i) for i in world.caused_by_u1]
    assert [i.user for i in kept if i] == [""] * len(world.caused_by_u1)

    again = await service.forget_user(user=U1)
    assert not again.found  # a double click: done once


async def test_affected_active_local_models_are_rebuilt_in_place_and_never_rolled_back_to(
    store: Store, settings: Settings
) -> None:
    world = await populate(store)
    old = await ensure_active(settings=settings, store=store)
    # As if both had learnt from U1: their manifests list U1's records.
    for model in old.values():
        await store.put_manifest(
            Manifest(
                id=f"model:{model.task}:{model.version}",
                kind="model",
                task=model.task,
                record_ids=frozenset({"u1f0", "u1g0", "u9g0"}),
                locations=(model.artifact,),
            )
        )

    report = await privacy_service(store, settings).forget_user(user=U1)

    rebuilt = {r.task: r for r in report.cleanup.rebuilt}
    assert set(rebuilt) == {"classifier", "generator"}
    for task, model in old.items():
        active = await store.active_model(task=task)
        assert active is not None
        assert active.version == rebuilt[task].version != model.version
        assert rebuilt[task].replaced == model.version
        assert not exists(model.artifact)
        flag = await store.get_manifest(f"model:{task}:{model.version}")
        assert flag is not None
        assert flag.affected == "forgotten"
        assert flag.locations == ()
        fresh = await store.get_manifest(f"model:{task}:{active.version}")
        assert fresh is not None
        assert not fresh.affected
        assert not fresh.record_ids & world.u1_ids
        with pytest.raises(NotFoundError):
            await store.rollback(task=task)
    assert report.cleanup.artifacts == 2
    live = await LiveModels.start(settings=settings, store=store)
    try:
        assert (await live.classify(["Oh great, another meeting."]))[0].label
        assert (await live.reply("is the build fixed?"))[0].text
    finally:
        await live.close()
    assert (await audit(store, user=U1, data_dir=settings.data_dir, texts=[MARKER])).clean


async def test_a_vertex_model_is_flagged_and_listed_and_a_retired_local_one_loses_its_files(
    store: Store, settings: Settings
) -> None:
    await populate(store)
    vertex = ModelVersion(
        task="generator",
        version="vx-1",
        backend="vertex",
        artifact="projects/p1/locations/us-central1/endpoints/1",
    )
    await store.add_model(vertex)
    await store.promote(task="generator", version="vx-1")
    retired = build_from_base(settings.data_dir, "classifier")
    await register(store, retired, promote=False)
    for model in (vertex, retired):
        local = (model.artifact,) if model.backend == "local" else ()
        await store.put_manifest(
            Manifest(
                id=f"model:{model.task}:{model.version}",
                kind="model",
                task=model.task,
                record_ids=frozenset({"u1g5"}),
                locations=local,
            )
        )
    service = privacy_service(store, settings)

    report = await service.forget_user(user=U1)

    assert report.cleanup.flagged == (Flagged("generator", "vx-1", "vertex", "active"),)
    assert report.cleanup.rebuilt == ()  # a Vertex model cannot be untrained, only flagged
    assert any("cannot be untrained" in line for line in report.lines())
    assert (await store.active_model(task="generator")) == await store.get_model(
        task="generator", version="vx-1"
    )
    assert await flagged_models(store, await store.list_manifests()) == [
        FlaggedModel("generator", "vx-1", "vertex", "forgotten", active=True)
    ]
    assert not exists(retired.artifact)
    assert report.cleanup.artifacts == 1
    manifest = await store.get_manifest(f"model:classifier:{retired.version}")
    assert manifest is not None
    assert manifest.affected == "forgotten"


async def test_an_active_openai_version_keeps_serving_until_a_clean_one_replaces_it(
    store: Store, settings: Settings
) -> None:
    await populate(store)
    folder, _ = dataset(settings, "openai-index", set(), MARKER)  # its few-shot index
    served = ModelVersion(task="generator", version="oa-1", backend="openai", artifact=str(folder))
    await store.add_model(served)
    await store.promote(task="generator", version="oa-1")
    await store.put_manifest(
        Manifest(
            id="model:generator:oa-1",
            kind="model",
            task="generator",
            record_ids=frozenset({"u1g7"}),
            locations=(str(folder),),
        )
    )
    service = privacy_service(store, settings)

    report = await service.forget_user(user=U1)

    assert report.cleanup.flagged == (Flagged("generator", "oa-1", "openai", "active"),)
    assert exists(folder)  # deleting it would stop the bot answering
    assert [p.location for p in report.cleanup.pending] == [str(folder)]
    assert (await service.retry_pending()).pending  # still serving: still pending
    assert exists(folder)

    clean = build_from_base(settings.data_dir, "generator")
    await register(store, clean, promote=True)
    retried = await service.retry_pending()

    assert retried.pending == ()
    assert retried.artifacts == 1
    assert not exists(folder)
