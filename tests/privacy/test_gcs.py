"""Uploaded objects in GCS (the emulator): deleted by forget-me; a 403 waits for the next tick."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.privacy.conftest import BUCKET_URL, GcsGate, privacy_service
from tests.privacy.world import MARKER, U1, exists, populate, write_file
from tuning.backends.local import LocalBackend
from tuning.cloud.uploads import GcsUploader
from tuning.config import Settings
from tuning.errors import BackendError
from tuning.lifecycle.scheduler import tick
from tuning.lifecycle.service import TuningService
from tuning.privacy.audit import audit
from tuning.records import Manifest
from tuning.store.sqlite.store import SqliteStore

pytestmark = pytest.mark.emulator


async def upload(uploader: GcsUploader, folder: Path, text: str) -> str:
    return await uploader.upload(write_file(folder / "train.jsonl", f'{{"text": "{text}"}}\n'))


async def test_uploader_lists_reads_and_deletes_its_objects(
    storage_client: Any, tmp_path: Path
) -> None:
    uploader = GcsUploader(f"{BUCKET_URL}/{tmp_path.name}", storage_client)
    uri = await upload(uploader, tmp_path / "d", MARKER)
    assert uri in await uploader.list_objects()
    assert MARKER.encode() in (await uploader.read(uri) or b"")
    assert await uploader.delete(uri) is True
    assert await uploader.delete(uri) is False  # already gone: deleting is idempotent
    assert await uploader.read(uri) is None
    assert uri not in await uploader.list_objects()
    with pytest.raises(BackendError, match="is not in gs://"):
        await uploader.delete("gs://another-bucket/x.jsonl")


async def test_a_gcs_permission_error_is_reported_kept_pending_and_retried_by_tick(
    sqlite_store: SqliteStore,
    settings: Settings,
    gcs_gate: GcsGate,
    gated_client: Any,
    tmp_path: Path,
) -> None:
    store = sqlite_store
    await populate(store)
    uploader = GcsUploader(f"{BUCKET_URL}/{tmp_path.name}", gated_client)
    folder = (settings.data_dir / "datasets" / "job-1").resolve()
    uri = await upload(uploader, folder, MARKER)
    manifest = Manifest(
        id="dataset:job-1",
        kind="dataset",
        task="generator",
        record_ids=frozenset({"u1g2"}),
        locations=(str(folder), uri),
    )
    await store.put_manifest(manifest)
    privacy = privacy_service(store, settings, uploader)
    gcs_gate.refusing = True  # the service account lacks roles/storage.objectAdmin

    report = await privacy.forget_user(user=U1)

    (pending,) = report.cleanup.pending
    assert pending.location == uri
    assert "403" in pending.reason
    assert "roles/storage.objectAdmin" in pending.reason
    assert any(uri in line and "next tick" in line for line in report.lines())
    assert report.cleanup.dataset_locations == 1
    assert not exists(folder)
    assert await uploader.read(uri) is not None  # never silently skipped: still there, pending
    stored = await store.get_manifest("dataset:job-1")
    assert stored is not None
    assert stored.affected == "forgotten"
    assert [p.split("\t")[0] for p in stored.pending] == [uri]
    service = TuningService(store, settings, {"local": LocalBackend(settings=settings)})

    refused = await tick(service, store, [], holder="t", privacy=privacy)
    assert any(uri in error and "403" in error for error in refused.errors)
    assert len(gcs_gate.refused) == 2

    gcs_gate.refusing = False  # the role was granted
    done = await tick(service, store, [], holder="t", privacy=privacy)
    assert done.errors == ()
    assert done.retried is not None
    assert done.retried.cloud_objects == 1
    assert await uploader.read(uri) is None
    assert await store.get_manifest("dataset:job-1") is None
    found = await audit(
        store, user=U1, data_dir=settings.data_dir, objects=uploader, texts=[MARKER]
    )
    assert found.clean
    await service.close()
