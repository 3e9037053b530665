"""A Vertex AI job's progress in Slack, against the fake Vertex server via the real SDK."""

from __future__ import annotations

from typing import Any

import pytest
from google.oauth2.credentials import Credentials

from bot.runtime import BuildTuning
from tests.admin.conftest import CONFIG_ADMIN
from tests.fakes.vertex_server import FakeVertex
from tests.harness import Harness
from tests.vertex.conftest import gcs_emulator, storage_client
from tuning.backends.vertex import VertexBackend
from tuning.cloud.uploads import GcsUploader
from tuning.cloud.vertex_client import build_client, retry_options
from tuning.config import Settings
from tuning.lifecycle.job_log import OnChange
from tuning.lifecycle.service import TuningService
from tuning.store.base import Store

CHANNEL = "C_GENERAL"
# Vertex reads datasets from gs:// only, so they go to the GCS emulator (the strict fake refuses
# any other URI).
__all__ = ["gcs_emulator", "storage_client"]


@pytest.fixture
def extra_env() -> dict[str, str]:
    return {
        "MODEL_BACKEND": "vertex",
        "GOOGLE_CLOUD_PROJECT": "p1",
        "GOOGLE_CLOUD_LOCATION": "us-central1",
        "TUNING_BUCKET": "gs://sarcasm-test/runs",
        "VERTEX_MIN_TRAIN_EXAMPLES": "5",
    }


@pytest.fixture
def build_tuning(fake_vertex: FakeVertex, storage_client: Any) -> BuildTuning:
    def build(settings: Settings, store: Store, *, on_change: OnChange) -> TuningService:
        client = build_client(
            settings.vertex,
            base_url=fake_vertex.url,
            credentials=Credentials(token="test"),
            retry=retry_options(2, initial_delay=0.01),
        )
        backend = VertexBackend(
            client=client,
            uploader=GcsUploader(settings.vertex.bucket, storage_client),
            vertex=settings.vertex,
        )
        return TuningService(
            store, settings, {"vertex": backend}, on_change=on_change, poll_seconds={"vertex": 0.05}
        )

    return build


async def test_vertex_job_reports_console_link_and_failure_reason(
    running: Harness, fake_vertex: FakeVertex
) -> None:
    ws = running.ws
    fake_vertex.script_outcome("FAILED", message="Dataset validation failed: row 3 has no text")
    await ws.slash_command(user=CONFIG_ADMIN, channel=CHANNEL, text="retrain classifier")

    def thread() -> list[str]:
        roots = [m for m in ws.messages(CHANNEL) if "started retraining" in m.get("text", "")]
        replies = ws.replies(CHANNEL, roots[-1]["ts"]) if roots else []
        return [m["text"] for m in replies]

    texts = await ws.wait_for(
        lambda: thread() if any(":x:" in t for t in thread()) else [], timeout=60
    )
    assert [t.split()[0] for t in texts] == [":hourglass_flowing_sand:", ":gear:", ":x:"], texts
    (job,) = await running.store.list_jobs(limit=1)
    assert job.backend == "vertex"
    assert job.remote_name is not None
    job_id = job.remote_name.rsplit("/", 1)[1]
    assert (
        "<https://console.cloud.google.com/vertex-ai/generative/language/locations/us-central1"
        f"/tuning/tuningJob/{job_id}?project=p1|console>"
    ) in texts[1]
    assert "Dataset validation failed: row 3 has no text" in texts[2]
    assert fake_vertex.bodies("POST", "/tuningJobs")
