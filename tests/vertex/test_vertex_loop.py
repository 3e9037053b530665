"""The whole loop on Vertex AI, wired exactly as in production, against the fakes.

Feedback in the store, a tick, a Vertex tuning job (datasets through the GCS emulator), the
candidate evaluated on its tuned endpoint, promoted, and served by LiveModels. Nothing here is
built with test hooks: the SDKs find the fakes through GOOGLE_VERTEX_BASE_URL,
STORAGE_EMULATOR_HOST and a service-account key (ADC) whose token endpoint is the fake's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.vertex_server import FakeVertex, text_candidate
from tests.tuning_loop.factories import add_flags
from tests.vertex.conftest import BUCKET, PROJECT, REGION
from tuning.backends.vertex import VertexBackend
from tuning.config import Settings, VertexSettings
from tuning.lifecycle.scheduler import Policy, tick
from tuning.lifecycle.service import TuningService
from tuning.models.serving import LiveModels
from tuning.prompts import LABEL_WORDS
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
