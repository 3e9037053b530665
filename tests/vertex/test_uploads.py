"""Dataset uploads: GCS through the real storage client and the GCS emulator, and a local dir."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.vertex.conftest import BUCKET, DatasetMaker
from tuning.backends.vertex_spec import count_examples, label_value
from tuning.cloud.uploads import GcsUploader, LocalDirUploader
from tuning.datasets.formats import validate_preference
from tuning.errors import BackendError


@pytest.mark.emulator
async def test_gcs_upload_is_content_addressed_and_reads_back_valid(
    storage_client: Any, make_dataset: DatasetMaker
) -> None:
    dataset = make_dataset("pref", train=6, validation=2)
    uploader = GcsUploader(f"gs://{BUCKET}/team-a/", storage_client)

    uri = await uploader.upload(dataset.train)

    digest = hashlib.sha256(dataset.train.read_bytes()).hexdigest()
    assert uri == f"gs://{BUCKET}/team-a/datasets/{digest}.jsonl"
    blob = storage_client.bucket(BUCKET).get_blob(f"team-a/datasets/{digest}.jsonl")
    lines = [json.loads(line) for line in blob.download_as_text().splitlines()]
    assert len(lines) == 6
    assert all(validate_preference(line) == [] for line in lines)
    assert {line["contents"][0]["role"] for line in lines} == {"user"}


@pytest.mark.emulator
async def test_gcs_reupload_of_the_same_bytes_is_a_no_op(
    storage_client: Any, make_dataset: DatasetMaker, tmp_path: Path
) -> None:
    dataset = make_dataset()
    uploader = GcsUploader(f"gs://{BUCKET}", storage_client)
    uri = await uploader.upload(dataset.train)
    name = uri.removeprefix(f"gs://{BUCKET}/")
    first = storage_client.bucket(BUCKET).get_blob(name)

    copy = tmp_path / "elsewhere.jsonl"
    copy.write_bytes(dataset.train.read_bytes())
    assert await uploader.upload(copy) == uri
    assert await uploader.upload(dataset.train) == uri

    again = storage_client.bucket(BUCKET).get_blob(name)
    assert (again.generation, again.updated) == (first.generation, first.updated)
    assert name.startswith("datasets/")


@pytest.mark.emulator
async def test_gcs_missing_bucket_is_a_clear_error(
    storage_client: Any, make_dataset: DatasetMaker
) -> None:
    uploader = GcsUploader("gs://no-such-bucket/x", storage_client)
    with pytest.raises(BackendError, match="gs://no-such-bucket does not exist"):
        await uploader.upload(make_dataset().train)


@pytest.mark.parametrize("url", ["s3://bucket", "gs://", "bucket/prefix"])
def test_gcs_uploader_rejects_non_gs_urls(url: str) -> None:
    with pytest.raises(BackendError, match="gs://BUCKET"):
        GcsUploader(url, client=None)


async def test_local_dir_upload_copies_once_by_content(
    tmp_path: Path, make_dataset: DatasetMaker
) -> None:
    dataset = make_dataset()
    uploader = LocalDirUploader(tmp_path / "uploads")

    first = await uploader.upload(dataset.train)
    second = await uploader.upload(dataset.train)

    assert first == second
    stored = Path(first)
    assert stored.name == hashlib.sha256(dataset.train.read_bytes()).hexdigest() + ".jsonl"
    assert sorted(p.name for p in stored.parent.iterdir()) == [stored.name]
    assert await asyncio.to_thread(stored.read_bytes) == dataset.train.read_bytes()


def test_count_examples_ignores_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text('{"a": 1}\n\n  \n{"a": 2}\n{"a": 3}', encoding="utf-8")
    assert count_examples(path) == 3
    assert count_examples(tmp_path / "missing.jsonl") == 0


@settings(max_examples=60, deadline=None)
@given(st.text())
def test_label_values_are_always_valid_gcp_labels(text: str) -> None:
    value = label_value(text)
    assert len(value) <= 63
    assert all(c.isascii() and (c.islower() or c.isdigit() or c in "_-") for c in value)


@pytest.mark.emulator
async def test_from_settings_honours_storage_emulator_host(
    gcs_emulator: str, monkeypatch: pytest.MonkeyPatch, make_dataset: DatasetMaker
) -> None:
    from tuning.config import VertexSettings

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)
    vertex = VertexSettings(project="test", bucket=f"gs://{BUCKET}/from-settings")
    uploader = GcsUploader.from_settings(vertex)
    uri = await uploader.upload(make_dataset().train)
    assert uri.startswith(f"gs://{BUCKET}/from-settings/datasets/")


def test_missing_cloud_credentials_are_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tuning.config import VertexSettings

    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(BackendError, match="no Google Cloud credentials"):
        GcsUploader.from_settings(VertexSettings(project="p1", bucket=f"gs://{BUCKET}"))
