"""VertexBackend through the real google-genai client, against the fake Vertex AI server.

Datasets go through the real google-cloud-storage client to the GCS emulator.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from tests.fakes.vertex_server import FakeVertex
from tests.vertex.conftest import BUCKET, PROJECT, REGION, DatasetMaker
from tuning.backends.vertex import VertexBackend
from tuning.cloud.uploads import GcsUploader
from tuning.config import VertexSettings
from tuning.datasets.formats import validate_sft
from tuning.errors import BackendError, DatasetError
from tuning.records import JobRecord, ModelVersion

pytestmark = pytest.mark.emulator

PARENT = f"projects/{PROJECT}/locations/{REGION}"


def job(task: str = "classifier", method: str = "sft", **extra: Any) -> JobRecord:
    return JobRecord(id=f"job-{task}-{method}", task=task, method=method, backend="vertex", **extra)  # type: ignore[arg-type]


def tuning_posts(fake: FakeVertex) -> list[dict[str, Any]]:
    return fake.bodies("POST", "/tuningJobs")


async def launch(
    backend: VertexBackend, record: JobRecord, dataset: Any, base: Any = None
) -> JobRecord:
    name = await backend.start(job=record, dataset=dataset, base=base)
    return dataclasses.replace(record, remote_name=name)


async def poll(backend: VertexBackend, record: JobRecord) -> list[Any]:
    seen = []
    for _ in range(10):
        status = await backend.status(job=record)
        seen.append(status)
        if status.state in ("SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED"):
            break
    return seen


def sha(path: Any) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_sft_job_sends_supervised_spec_with_uploaded_gcs_uris(
    make_backend: Any, make_dataset: DatasetMaker, fake_vertex: FakeVertex, storage_client: Any
) -> None:
    vertex = VertexSettings(
        project=PROJECT,
        location=REGION,
        bucket=f"gs://{BUCKET}/runs",
        min_train_examples=5,
        epochs=2,
        learning_rate_multiplier=0.5,
        adapter_size=4,
        retry_attempts=3,
    )
    dataset = make_dataset("classifier-sft")
    record = await launch(make_backend(vertex), job(), dataset)

    (body,) = tuning_posts(fake_vertex)
    train_uri = f"gs://{BUCKET}/runs/datasets/{sha(dataset.train)}.jsonl"
    assert record.remote_name == f"{PARENT}/tuningJobs/1"
    assert body["baseModel"] == "gemini-3.5-flash-lite"
    assert "preferenceOptimizationSpec" not in body
    assert "preTunedModel" not in body
    assert body["supervisedTuningSpec"] == {
        "trainingDatasetUri": train_uri,
        "validationDatasetUri": f"gs://{BUCKET}/runs/datasets/{sha(dataset.validation)}.jsonl",
        "hyperParameters": {
            "epochCount": 2,
            "learningRateMultiplier": 0.5,
            "adapterSize": "ADAPTER_SIZE_FOUR",
        },
    }
    assert body["labels"] == {
        "app": "sarcasm-bot",
        "task": "classifier",
        "method": "sft",
        "job": "job-classifier-sft",
    }
    assert body["tunedModelDisplayName"] == "sarcasm-bot classifier sft job-classifier-sft"

    # What the job will read is exactly what we exported, and valid line by line.
    blob = storage_client.bucket(BUCKET).blob(train_uri.removeprefix(f"gs://{BUCKET}/"))
    uploaded = blob.download_as_bytes()
    assert uploaded == dataset.train.read_bytes()
    lines = [json.loads(line) for line in uploaded.decode().splitlines()]
    assert len(lines) == 8
    assert all(validate_sft(line) == [] for line in lines)
    assert {line["contents"][1]["parts"][0]["text"] for line in lines} == {
        "SARCASTIC",
        "NOT_SARCASTIC",
    }


async def test_defaults_leave_hyperparameters_to_vertex(
    make_backend: Any, make_dataset: DatasetMaker, fake_vertex: FakeVertex
) -> None:
    await launch(make_backend(), job("generator"), make_dataset("generator-sft", validation=0))
    (body,) = tuning_posts(fake_vertex)
    assert body["baseModel"] == "gemini-3.5-flash"
    assert set(body["supervisedTuningSpec"]) == {"trainingDatasetUri"}


async def test_preference_job_continues_from_the_active_tuned_model(
    make_backend: Any,
    make_dataset: DatasetMaker,
    fake_vertex: FakeVertex,
    vertex_settings: VertexSettings,
) -> None:
    vertex = dataclasses.replace(vertex_settings, preference_beta=0.2, epochs=1)
    active = ModelVersion(
        task="generator", version="g2", backend="vertex", artifact=f"{PARENT}/models/42@1"
    )
    await launch(make_backend(vertex), job("generator", "preference"), make_dataset("pref"), active)

    (body,) = tuning_posts(fake_vertex)
    spec = body["preferenceOptimizationSpec"]
    assert spec["trainingDatasetUri"].startswith(f"gs://{BUCKET}/runs/datasets/")
    assert spec["validationDatasetUri"].startswith(f"gs://{BUCKET}/runs/datasets/")
    assert spec["hyperParameters"] == {"epochCount": 1, "beta": 0.2}
    assert "supervisedTuningSpec" not in body
    assert "baseModel" not in body
    pre = body["preTunedModel"]
    assert pre.get("tunedModelName", pre.get("tuned_model_name")) == f"{PARENT}/models/42@1"


async def test_recommended_generator_path_sft_then_preference_from_its_checkpoint(
    make_backend: Any, make_dataset: DatasetMaker, fake_vertex: FakeVertex
) -> None:
    backend = make_backend()
    sft = await launch(backend, job("generator", "sft"), make_dataset("generator-sft"))
    done = (await poll(backend, sft))[-1]
    assert done.state == "SUCCEEDED"
    assert done.artifact is not None
    active = ModelVersion(task="generator", version="g1", backend="vertex", artifact=done.artifact)

    await launch(backend, job("generator", "preference"), make_dataset("pref"), active)

    first, second = tuning_posts(fake_vertex)
    assert "supervisedTuningSpec" in first
    assert "preferenceOptimizationSpec" in second
    pre = second["preTunedModel"]
    assert pre.get("tunedModelName", pre.get("tuned_model_name")) == done.detail["tuned_model"]


@pytest.mark.parametrize(
    ("policy", "method", "continues"),
    [
        ("never", "preference", False),
        ("preference", "sft", False),
        ("preference", "preference", True),
        ("always", "sft", True),
    ],
)
async def test_continue_from_active_follows_the_policy(
    make_backend: Any,
    make_dataset: DatasetMaker,
    fake_vertex: FakeVertex,
    vertex_settings: VertexSettings,
    policy: str,
    method: str,
    continues: bool,
) -> None:
    vertex = dataclasses.replace(vertex_settings, continue_from_active=policy)
    active = ModelVersion(
        task="generator", version="g1", backend="vertex", artifact=f"{PARENT}/models/7@3"
    )
    kind = "pref" if method == "preference" else "generator-sft"
    await launch(make_backend(vertex), job("generator", method), make_dataset(kind), active)
    (body,) = tuning_posts(fake_vertex)
    assert ("preTunedModel" in body) is continues
    assert ("baseModel" in body) is not continues


async def test_a_local_active_model_is_not_continued_from(
    make_backend: Any, make_dataset: DatasetMaker, fake_vertex: FakeVertex
) -> None:
    local = ModelVersion(task="generator", version="l1", backend="local", artifact="/m.skops")
    await launch(make_backend(), job("generator", "preference"), make_dataset("pref"), local)
    (body,) = tuning_posts(fake_vertex)
    assert body["baseModel"] == "gemini-3.5-flash"


async def test_unknown_active_endpoint_is_a_clear_error_before_upload(
    make_backend: Any, make_dataset: DatasetMaker, fake_vertex: FakeVertex
) -> None:
    ghost = ModelVersion(
        task="generator", version="g9", backend="vertex", artifact=f"{PARENT}/endpoints/404"
    )
    with pytest.raises(BackendError, match="VERTEX_CONTINUE_FROM_ACTIVE=never"):
        await launch(make_backend(), job("generator", "preference"), make_dataset("pref"), ghost)
    assert tuning_posts(fake_vertex) == []


async def test_job_moves_through_states_to_an_endpoint(
    make_backend: Any, make_dataset: DatasetMaker
) -> None:
    backend = make_backend()
    record = await launch(backend, job(), make_dataset())
    seen = await poll(backend, record)
    assert [s.state for s in seen] == ["PENDING", "RUNNING", "SUCCEEDED"]
    assert [s.artifact for s in seen[:2]] == [None, None]
    assert seen[-1].artifact == f"{PARENT}/endpoints/7001"
    assert seen[-1].detail["tuned_model"] == f"{PARENT}/models/9001@1"
    assert seen[-1].error is None


async def test_failed_job_keeps_its_error_message(
    make_backend: Any, make_dataset: DatasetMaker, fake_vertex: FakeVertex
) -> None:
    fake_vertex.script_outcome("FAILED", message="Dataset line 3: role must be user or model")
    backend = make_backend()
    record = await launch(backend, job(), make_dataset())
    final = (await poll(backend, record))[-1]
    assert final.state == "FAILED"
    assert final.error == "Dataset line 3: role must be user or model"
    assert final.artifact is None


async def test_expired_job_says_so(
    make_backend: Any, make_dataset: DatasetMaker, fake_vertex: FakeVertex
) -> None:
    fake_vertex.script_outcome("EXPIRED")
    backend = make_backend()
    record = await launch(backend, job(), make_dataset())
    final = (await poll(backend, record))[-1]
    assert final.state == "EXPIRED"
    assert final.error is not None
    assert "expired" in final.error


async def test_cancel_stops_a_running_job_and_leaves_an_ended_one_alone(
    make_backend: Any, make_dataset: DatasetMaker, fake_vertex: FakeVertex
) -> None:
    fake_vertex.cancelling_polls = 0  # CANCELLING has its own test below
    backend = make_backend()
    record = await launch(backend, job(), make_dataset())
    assert (await backend.status(job=record)).state == "PENDING"

    await backend.cancel(job=record)
    assert (await backend.status(job=record)).state == "CANCELLED"
    await backend.cancel(job=record)
    assert len(fake_vertex.bodies("POST", ":cancel")) == 1


async def test_a_single_429_is_retried_and_the_job_is_created_once(
    make_backend: Any, make_dataset: DatasetMaker, fake_vertex: FakeVertex
) -> None:
    fake_vertex.inject(429, times=1, retry_after=1, match="/tuningJobs", method="POST")
    record = await launch(make_backend(), job(), make_dataset())
    assert len(tuning_posts(fake_vertex)) == 2
    assert list(fake_vertex.jobs) == [record.remote_name]


async def test_a_500_on_status_is_retried(
    make_backend: Any, make_dataset: DatasetMaker, fake_vertex: FakeVertex
) -> None:
    backend = make_backend()
    record = await launch(backend, job(), make_dataset())
    fake_vertex.inject(500, times=2)
    assert (await backend.status(job=record)).state == "PENDING"


async def test_a_429_storm_ends_in_one_clear_error_after_bounded_attempts(
    make_backend: Any, make_dataset: DatasetMaker, fake_vertex: FakeVertex
) -> None:
    fake_vertex.inject(429, times=1000, retry_after=30, method="POST")
    with pytest.raises(BackendError) as caught:
        await launch(make_backend(), job(), make_dataset())
    message = str(caught.value)
    assert "rate limited" in message
    assert "3 attempts" in message
    assert "\n" not in message
    assert len(tuning_posts(fake_vertex)) == 3
    assert fake_vertex.jobs == {}


async def test_bad_credentials_are_a_clear_error(
    make_backend: Any, make_dataset: DatasetMaker
) -> None:
    with pytest.raises(BackendError, match="check the credentials"):
        await launch(make_backend(token="expired"), job(), make_dataset())


async def test_too_small_a_dataset_is_refused_before_any_upload(
    make_backend: Any, make_dataset: DatasetMaker, fake_vertex: FakeVertex, storage_client: Any
) -> None:
    dataset = make_dataset(train=4)
    with pytest.raises(DatasetError, match=r"has 4 examples.*at least 5 \(VERTEX_MIN_TRAIN"):
        await launch(make_backend(), job(), dataset)
    assert fake_vertex.requests == []
    names = {blob.name for blob in storage_client.list_blobs(BUCKET)}
    assert f"runs/datasets/{sha(dataset.train)}.jsonl" not in names


async def test_status_of_a_job_never_launched_is_a_clear_error(make_backend: Any) -> None:
    with pytest.raises(BackendError, match="never launched"):
        await make_backend().status(job=job())


@pytest.fixture
async def forbidden_gcs(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[list[str]]:
    """A GCS JSON API that answers every request 403, in GCS's real error shape."""
    seen: list[str] = []

    async def deny(request: web.Request) -> web.Response:
        seen.append(f"{request.method} {request.path}")
        message = "sa@p1.iam.gserviceaccount.com does not have storage.objects.get access"
        error = {"code": 403, "message": message, "errors": [{"reason": "forbidden"}]}
        return web.json_response({"error": error}, status=403)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", deny)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{runner.addresses[0][1]}")
    yield seen
    await runner.cleanup()


async def test_gcs_permission_error_is_one_line_and_no_job_is_created(
    forbidden_gcs: list[str],
    make_client: Any,
    make_dataset: DatasetMaker,
    fake_vertex: FakeVertex,
    vertex_settings: VertexSettings,
) -> None:
    import google.cloud.storage as storage  # type: ignore[import-untyped]
    from google.auth.credentials import AnonymousCredentials

    client = storage.Client(project="test", credentials=AnonymousCredentials())
    uploader = GcsUploader(vertex_settings.bucket, client)
    backend = VertexBackend(
        client=make_client(vertex_settings), uploader=uploader, vertex=vertex_settings
    )
    with pytest.raises(BackendError, match=r"403.*roles/storage.objectAdmin") as caught:
        await launch(backend, job(), make_dataset())
    assert "\n" not in str(caught.value)
    assert forbidden_gcs
    assert tuning_posts(fake_vertex) == []
    client.close()


async def test_missing_vertex_credentials_are_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, vertex_settings: VertexSettings
) -> None:
    from tuning.config import Settings
    from tuning.errors import ModelError
    from tuning.models.vertex import VertexClassifier

    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    model = ModelVersion(
        task="classifier", version="c1", backend="vertex", artifact=f"{PARENT}/endpoints/1"
    )
    classifier = VertexClassifier(model, Settings(vertex=vertex_settings))
    with pytest.raises(ModelError, match="no usable Google Cloud credentials"):
        await classifier.classify(["hello"])
    await classifier.aclose()


async def test_a_create_that_fails_after_taking_effect_adopts_the_job_instead_of_duplicating(
    make_backend: Any, make_dataset: DatasetMaker, fake_vertex: FakeVertex
) -> None:
    fake_vertex.inject(503, times=1, match="/tuningJobs", method="POST", after=True)
    record = await launch(make_backend(), job(), make_dataset())
    assert len(tuning_posts(fake_vertex)) == 1
    assert list(fake_vertex.jobs) == [record.remote_name]


async def test_a_create_that_failed_without_effect_is_retried_once_checked(
    make_backend: Any, make_dataset: DatasetMaker, fake_vertex: FakeVertex
) -> None:
    fake_vertex.inject(500, times=1, match="/tuningJobs", method="POST")
    record = await launch(make_backend(), job(), make_dataset())
    assert len(tuning_posts(fake_vertex)) == 2
    assert list(fake_vertex.jobs) == [record.remote_name]
    # Between the two creates, the backend looked for a job it might have made.
    methods = [r.method for r in fake_vertex.requests if r.path.endswith("/tuningJobs")]
    assert methods == ["GET", "POST", "GET", "POST"]


async def test_starting_a_job_again_adopts_the_one_already_launched(
    make_backend: Any, make_dataset: DatasetMaker, fake_vertex: FakeVertex
) -> None:
    backend = make_backend()
    first = await launch(backend, job(), make_dataset())
    again = await launch(backend, job(), make_dataset("classifier-sft", train=9))
    assert again.remote_name == first.remote_name
    assert len(tuning_posts(fake_vertex)) == 1


async def test_5xx_on_every_create_ends_in_a_clear_error_and_no_job(
    make_backend: Any, make_dataset: DatasetMaker, fake_vertex: FakeVertex
) -> None:
    fake_vertex.inject(503, times=100, match="/tuningJobs", method="POST")
    with pytest.raises(BackendError, match="failed to create the tuning job"):
        await launch(make_backend(), job(), make_dataset())
    assert fake_vertex.jobs == {}


async def test_a_cancelling_job_is_still_running_and_is_not_cancelled_twice(
    make_backend: Any, make_dataset: DatasetMaker, fake_vertex: FakeVertex
) -> None:
    backend = make_backend()
    record = await launch(backend, job(), make_dataset())
    await backend.cancel(job=record)
    cancelling = await backend.status(job=record)
    assert (cancelling.state, cancelling.detail["remote_state"]) == (
        "RUNNING",
        "JOB_STATE_CANCELLING",
    )
    await backend.cancel(job=record)
    assert len(fake_vertex.bodies("POST", ":cancel")) == 1
    assert (await backend.status(job=record)).state == "CANCELLED"


async def test_cancelling_an_expired_job_sends_no_cancel(
    make_backend: Any, make_dataset: DatasetMaker, fake_vertex: FakeVertex
) -> None:
    fake_vertex.script_outcome("EXPIRED")
    backend = make_backend()
    record = await launch(backend, job(), make_dataset())
    assert (await poll(backend, record))[-1].state == "EXPIRED"
    await backend.cancel(job=record)
    assert fake_vertex.bodies("POST", ":cancel") == []


async def test_a_create_whose_connection_drops_after_taking_effect_leaves_exactly_one_job(
    make_backend: Any, make_dataset: DatasetMaker, fake_vertex: FakeVertex
) -> None:
    fake_vertex.drop_connection(match="/tuningJobs", method="POST")
    record = await launch(make_backend(), job(), make_dataset())
    # One create went out (neither the SDK nor we retried it blind), and it was adopted.
    assert len(tuning_posts(fake_vertex)) == 1
    assert list(fake_vertex.jobs) == [record.remote_name]
    # The job was found by the server, through a label filter, not by listing every job.
    lookups = [r.query for r in fake_vertex.requests if r.method == "GET"]
    lookups = [q for q in lookups if "filter" in q]
    assert len(lookups) == 2  # before the create, and after its answer was lost
    assert lookups[-1]["filter"] == 'labels.app="sarcasm-bot" AND labels.job="job-classifier-sft"'


async def test_a_lost_create_is_found_among_many_jobs_by_the_server_side_filter(
    make_backend: Any, make_dataset: DatasetMaker, fake_vertex: FakeVertex
) -> None:
    backend = make_backend()
    for i in range(12):  # more than one default page of other jobs
        other = dataclasses.replace(job(), id=f"job-other-{i}")
        await launch(backend, other, make_dataset(train=8 + i))
    fake_vertex.inject(503, match="/tuningJobs", method="POST", after=True)
    record = await launch(backend, job(), make_dataset(train=30))
    assert len(tuning_posts(fake_vertex)) == 13
    assert record.remote_name == f"{PARENT}/tuningJobs/13"
