"""The whole loop on Vertex AI, wired exactly as in production, against the fakes.

Feedback in the store, a tick, a Vertex tuning job (datasets through the GCS emulator), the
candidate evaluated on its tuned endpoint, promoted, and served by LiveModels. Nothing here is
built with test hooks: the SDKs find the fakes through GOOGLE_VERTEX_BASE_URL,
STORAGE_EMULATOR_HOST and a service-account key (ADC) whose token endpoint is the fake's.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.vertex_server import FakeVertex, text_candidate
from tests.tuning_loop.factories import add_flags, add_replies
from tests.vertex.conftest import BUCKET, PROJECT, REGION
from tuning.backends.vertex import VertexBackend
from tuning.cli import VERBS, build_parser
from tuning.config import Settings, VertexSettings
from tuning.datasets.formats import validate_preference
from tuning.lifecycle.scheduler import Policy, tick
from tuning.lifecycle.service import TuningService
from tuning.models.label_calibration import LOGPROBS, P_IF_NOT_SARCASTIC, P_IF_SARCASTIC
from tuning.models.serving import LiveModels
from tuning.prompts import GENERATOR_SYSTEM_PROMPT, LABEL_WORDS
from tuning.records import dataset_manifest_id, model_manifest_id
from tuning.store import open_store
from tuning.store.sqlite.store import SqliteStore

pytestmark = [pytest.mark.slow, pytest.mark.emulator]

ENDPOINT = f"projects/{PROJECT}/locations/{REGION}/endpoints/7001"


@pytest.fixture
def store(sqlite_store: SqliteStore) -> SqliteStore:
    """The loop runs on SQLite here; the store contract suite covers Firestore."""
    return sqlite_store


@pytest.fixture
def production_env(
    fake_vertex: FakeVertex, gcs_emulator: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A service-account key made up for this test; its token_uri is the fake's token endpoint.
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    adc = tmp_path / "adc.json"
    adc.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": PROJECT,
                "private_key_id": "test-key",
                "private_key": pem.decode(),
                "client_email": f"sarcasm-bot@{PROJECT}.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": f"{fake_vertex.url}/token",
            }
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
    monkeypatch.setenv("GOOGLE_VERTEX_BASE_URL", fake_vertex.url)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)


def oracle(data_dir: Path) -> Any:
    """Answer like a perfectly tuned classifier: the label the exported datasets hold."""
    labels: dict[str, str] = {}

    def respond(body: dict[str, Any]) -> list[dict[str, Any]]:
        if not labels:  # the datasets are exported before the first call
            for path in data_dir.glob("datasets/*/*.jsonl"):
                for line in path.read_text(encoding="utf-8").splitlines():
                    turns = json.loads(line)["contents"]
                    labels[turns[0]["parts"][0]["text"]] = turns[1]["parts"][0]["text"]
        text = body["contents"][0]["parts"][0]["text"]
        return [text_candidate(labels.get(text, LABEL_WORDS["not_sarcastic"]))]

    return respond


async def test_feedback_to_a_promoted_vertex_classifier_serving_replies(
    production_env: None, fake_vertex: FakeVertex, store: SqliteStore, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        model_backend="vertex",
        vertex=VertexSettings(
            project=PROJECT,
            location=REGION,
            bucket=f"gs://{BUCKET}/loop",
            min_train_examples=20,
            retry_attempts=2,
        ),
    )
    live = await LiveModels.start(settings=settings, store=store)
    await add_flags(store, 300)
    fake_vertex.respond(ENDPOINT, oracle(settings.data_dir))
    backend = VertexBackend.from_settings(settings)
    service = TuningService(store, settings, {"vertex": backend}, poll_seconds={"vertex": 0.01})
    try:
        policy = Policy(task="classifier", method="sft", min_new_feedback=100)
        result = await tick(service, store, [policy], holder="test")
        assert result.launched is not None
        job = await service.wait(result.launched.id)

        assert job.state == "SUCCEEDED", job.error
        assert job.outcome == "promoted", job.metrics
        assert job.remote_name == f"projects/{PROJECT}/locations/{REGION}/tuningJobs/1"
        assert [c.state for c in job.history][:4] == ["QUEUED", "PENDING", "RUNNING", "EVALUATING"]
        (body,) = fake_vertex.bodies("POST", "/tuningJobs")
        assert body["supervisedTuningSpec"]["trainingDatasetUri"].startswith(f"gs://{BUCKET}/loop/")
        assert fake_vertex.requests[0].path == "/token"

        assert await live.refresh() is True
        assert live.versions["classifier"] == job.candidate_version
        served = await live.classify(
            ["The printer in Oslo is on fire again. Please file a ticket."]
        )
        assert served[0].label == "not_sarcastic"
        assert fake_vertex.bodies("POST", f"{ENDPOINT}:generateContent")
    finally:
        await service.close()
        await backend.aclose()
        await live.close()


async def cli(settings: Settings, *argv: str) -> int:
    """Run one ``python -m tuning`` verb on this event loop (the fakes serve on it too)."""
    args = build_parser().parse_args(argv)
    module = importlib.import_module(VERBS[args.verb])
    code: int = await module.run(args, settings)
    return code


def cli_settings(tmp_path: Path, **extra: str) -> Settings:
    env = {
        "MODEL_BACKEND": "vertex",
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "GOOGLE_CLOUD_LOCATION": REGION,
        "TUNING_BUCKET": f"gs://{BUCKET}/cli",
        "STORE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "DATA_DIR": str(tmp_path / "data"),
        "VERTEX_MIN_TRAIN_EXAMPLES": "20",
        "VERTEX_RETRY_ATTEMPTS": "2",
        **extra,
    }
    return Settings.from_env(env)


async def test_a_gemini_3_classifier_job_is_evaluated_promoted_with_force_and_serves_classify(
    production_env: None, fake_vertex: FakeVertex, tmp_path: Path
) -> None:
    settings = cli_settings(tmp_path)
    assert settings.vertex.classifier_base_model.startswith("gemini-3")
    store = await open_store(settings.store_url)
    await add_flags(store, 300)
    await store.close()
    endpoint = f"projects/{PROJECT}/locations/{REGION}/endpoints/7001"
    fake_vertex.respond(endpoint, oracle(settings.data_dir))

    assert await cli(settings, "run", "--task", "classifier", "--method", "sft", "--force") == 0
    for _ in range(6):  # each tick polls the job once; the fake moves one state per poll
        assert await cli(settings, "tick") == 0
        store = await open_store(settings.store_url)
        (job,) = [j for j in await store.list_jobs(limit=10) if j.task == "classifier"]
        active = await store.active_model(task="classifier")
        await store.close()
        if job.ended:
            break
    assert (job.state, job.outcome, job.error) == ("SUCCEEDED", "promoted", None)
    assert job.metrics["decision"].startswith(("forced", "no active model"))
    assert active is not None
    assert (active.version, active.artifact) == (job.candidate_version, endpoint)
    (create,) = fake_vertex.bodies("POST", "/tuningJobs")
    assert create["baseModel"] == settings.vertex.classifier_base_model
    # The uploads are on the dataset's manifest; the tuned model has no files of ours to delete.
    store = await open_store(settings.store_url)
    dataset = await store.get_manifest(dataset_manifest_id(job.id))
    model = await store.get_manifest(model_manifest_id(task="classifier", version=active.version))
    await store.close()
    assert dataset is not None
    assert model is not None
    sent = {v for v in create["supervisedTuningSpec"].values() if str(v).startswith("gs://")}
    assert len(sent) == 2  # train and validation
    assert {loc for loc in dataset.locations if loc.startswith("gs://")} == sent
    assert (model.locations, model.record_ids) == ((), dataset.record_ids)
    assert model.record_ids
    # Calibrated on the validation split, stored with the version; no call asked for logprobs.
    assert 0.5 < active.metrics[P_IF_SARCASTIC] < 1.0
    assert 0.0 < active.metrics[P_IF_NOT_SARCASTIC] < 0.5
    assert active.metrics[LOGPROBS] == 0.0
    calls = fake_vertex.bodies("POST", f"{endpoint}:generateContent")
    assert calls
    assert not any("responseLogprobs" in c["generationConfig"] for c in calls)

    texts = tmp_path / "texts.txt"
    texts.write_text("Oh great, another Monday.\nThe build is green.\n", encoding="utf-8")
    out = tmp_path / "labels.jsonl"
    assert await cli(settings, "classify", "--in", str(texts), "--out", str(out)) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [row["text"] for row in rows] == ["Oh great, another Monday.", "The build is green."]
    assert all(0.0 <= row["probability"] <= 1.0 for row in rows)
    assert {row["probability"] for row in rows} <= {
        round(active.metrics[P_IF_SARCASTIC], 6),
        round(active.metrics[P_IF_NOT_SARCASTIC], 6),
    }


async def test_a_preference_job_uploads_lines_with_the_generator_system_instruction(
    production_env: None, fake_vertex: FakeVertex, tmp_path: Path, storage_client: Any
) -> None:
    settings = cli_settings(tmp_path, VERTEX_CONTINUE_FROM_ACTIVE="never")
    store = await open_store(settings.store_url)
    await add_replies(store, 60)
    await store.close()

    assert await cli(settings, "run", "--task", "generator", "--method", "preference") == 0

    (create,) = fake_vertex.bodies("POST", "/tuningJobs")
    uri = create["preferenceOptimizationSpec"]["trainingDatasetUri"]
    blob = storage_client.bucket(BUCKET).blob(uri.removeprefix(f"gs://{BUCKET}/"))
    lines = [json.loads(line) for line in blob.download_as_text().splitlines()]
    assert lines
    for line in lines:
        assert line["systemInstruction"] == {"parts": [{"text": GENERATOR_SYSTEM_PROMPT}]}
        assert validate_preference(line) == []
