"""Issue 13's scenario at the tuning level, on SQLite and on the Firestore emulator, with GCS.

A marker phrase in U1's texts (one row authored by U1 but stored by U2's click), other people's
ratings, real local jobs for both models, an export and an upload: the real CLI audit finds the
marker in the store, the datasets, the model files, GCS and the manifests; after forget-me it
finds nothing, and the rebuilt models still answer.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.privacy.cli import run_cli
from tests.privacy.conftest import BUCKET_URL
from tests.privacy.jobs import export, retrain, tuning_service
from tests.privacy.world import MARKER, U1, exists, populate
from tuning.cloud.uploads import GcsUploader
from tuning.config import Settings, VertexSettings
from tuning.lifecycle.builder import build_privacy_service
from tuning.lifecycle.tracing import record_upload
from tuning.models.builders import ensure_active
from tuning.models.serving import LiveModels
from tuning.records import TASKS, ModelVersion, Task
from tuning.store import open_store
from tuning.store.base import Store

pytestmark = [pytest.mark.slow, pytest.mark.emulator]


@pytest.fixture(params=["sqlite", pytest.param("firestore", marks=pytest.mark.emulator)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A STORE_URL the test and the CLI subprocess share: a file, or an emulator project."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    request.getfixturevalue("firestore_emulator")
    return f"firestore://privacy-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    opened = await open_store(store_url)
    yield opened
    await opened.close()


async def train(store: Store, settings: Settings) -> dict[Task, ModelVersion]:
    """Run a real local SFT job for each model; return the active versions (holding U1's)."""
    await ensure_active(settings=settings, store=store)
    service = tuning_service(store, settings)
    try:
        for task in TASKS:
            job = await retrain(service, store, task)
            assert job.state == "SUCCEEDED", job.error
    finally:
        await service.close()
    active = {task: await store.active_model(task=task) for task in TASKS}
    return {task: model for task, model in active.items() if model is not None}


async def test_forget_me_leaves_no_copy_of_the_users_text_anywhere(
    store: Store, store_url: str, tmp_path: Path, storage_client: Any
) -> None:
    bucket = f"{BUCKET_URL}/{tmp_path.name}"
    settings = Settings(
        data_dir=tmp_path / "data", store_url=store_url, vertex=VertexSettings(bucket=bucket)
    )
    world = await populate(store)
    trained = await train(store, settings)
    out = settings.data_dir / "exports" / "gen-sft"
    assert await export(settings, "generator", out) == 0
    uploader = GcsUploader(bucket, storage_client)
    train_file = out / "train.jsonl"
    uri = await uploader.upload(train_file)
    await record_upload(store, train_file, uri)  # what the Vertex backend's upload hook does
    audit = ["privacy", "audit", "--user", U1, "--text", MARKER, "--json"]

    before = await asyncio.to_thread(run_cli, audit, settings, cwd=tmp_path)

    assert before.returncode == 1, before.stderr
    found = json.loads(before.stdout)["found"]
    places = {f["where"] for f in found}
    assert {f["place"] for f in found} == {"store", "file", "object", "manifest"}
    assert "interaction u2retry (author)" in places  # stored by U2's click, written by U1
    assert uri in places
    assert any(w.endswith("generator.json") for w in places)
    assert any(".skops!" in w for w in places)  # inside the classifier's archive
    assert any(w.startswith(str(out)) for w in places)
    assert MARKER not in before.stdout + before.stderr  # places, never the text

    report = await build_privacy_service(settings, store).forget_user(user=U1)

    assert report.records.interactions == len(world.u1_ids)
    assert report.cleanup.cloud_objects == 1
    assert {r.task for r in report.cleanup.rebuilt} == set(TASKS)
    after = await asyncio.to_thread(run_cli, audit, settings, cwd=tmp_path)
    assert after.returncode == 0, after.stdout + after.stderr
    assert json.loads(after.stdout) == {"user": U1, "clean": True, "texts": 1, "found": []}
    for task, old in trained.items():
        assert not exists(old.artifact)
        active = await store.active_model(task=task)
        assert active is not None
        assert active.version != old.version
    remaining = {i.id async for i in store.iter_interactions()}
    assert world.others <= remaining
    live = await LiveModels.start(settings=settings, store=store)
    try:
        assert (await live.classify(["Oh great, the vpn is down again."]))[0].label
        assert (await live.reply("is the build fixed yet?"))[0].text
    finally:
        await live.close()
