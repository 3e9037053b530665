"""Fixtures for the Vertex AI tests: the fake Vertex server, a GCS emulator, real SDK clients."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from google.oauth2.credentials import Credentials

from tests.fakes.vertex_server import FakeVertex
from tuning.backends.vertex import VertexBackend
from tuning.cloud.uploads import GcsUploader
from tuning.cloud.vertex_client import build_client, retry_options
from tuning.config import VertexSettings
from tuning.datasets.files import DatasetFiles
from tuning.datasets.formats import preference_line, reinforcement_line, sft_line
from tuning.prompts import CLASSIFIER_SYSTEM_PROMPT, GENERATOR_SYSTEM_PROMPT

BUCKET = "sarcasm-test"
PROJECT = "p1"
REGION = "us-central1"
ATTEMPTS = 3

DatasetMaker = Callable[..., DatasetFiles]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[str]:
    """Run gcp-storage-emulator in this process on a free port, with the test bucket."""
    server_module = pytest.importorskip(
        "gcp_storage_emulator.server", reason="gcp-storage-emulator is not installed"
    )
    port = free_port()
    server = server_module.create_server("127.0.0.1", port, in_memory=True, default_bucket=BUCKET)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def storage_client(gcs_emulator: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A real google-cloud-storage client that STORAGE_EMULATOR_HOST points at the emulator."""
    import google.cloud.storage as storage  # type: ignore[import-untyped]
    from google.auth.credentials import AnonymousCredentials

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)
    client = storage.Client(project="test", credentials=AnonymousCredentials())
    yield client
    client.close()


@pytest.fixture
def vertex_settings() -> VertexSettings:
    return VertexSettings(
        project=PROJECT,
        location=REGION,
        bucket=f"gs://{BUCKET}/runs",
        min_train_examples=5,
        retry_attempts=ATTEMPTS,
    )


@pytest.fixture
async def make_client(fake_vertex: FakeVertex) -> AsyncIterator[Callable[..., Any]]:
    """Build real google-genai clients against the fake, with fast retries; close them after."""
    clients: list[Any] = []

    def make(vertex: VertexSettings, *, token: str = "test") -> Any:
        client = build_client(
            vertex,
            base_url=fake_vertex.url,
            credentials=Credentials(token=token),
            retry=retry_options(vertex.retry_attempts, initial_delay=0.01),
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aio.aclose()


@pytest.fixture
def make_backend(
    make_client: Callable[..., Any], storage_client: Any, vertex_settings: VertexSettings
) -> Callable[..., VertexBackend]:
    def make(vertex: VertexSettings | None = None, *, token: str = "test") -> VertexBackend:
        vertex = vertex or vertex_settings
        uploader = GcsUploader(vertex.bucket, storage_client)
        client = make_client(vertex, token=token)
        return VertexBackend(client=client, uploader=uploader, vertex=vertex, retry_delay=0.01)

    return make


@pytest.fixture
def make_dataset(tmp_path: Path) -> DatasetMaker:
    """Write a small, valid dataset in the Vertex JSONL formats; unique per test."""

    def make(kind: str = "classifier-sft", *, train: int = 8, validation: int = 3) -> DatasetFiles:
        folder = tmp_path / f"{kind}-{train}-{validation}"
        folder.mkdir()
        tag = tmp_path.name

        def line(i: int) -> dict[str, Any]:
            if kind == "classifier-sft":
                label = "SARCASTIC" if i % 2 else "NOT_SARCASTIC"
                return sft_line(CLASSIFIER_SYSTEM_PROMPT, f"message {i} {tag}", label)
            if kind == "generator-sft":
                return sft_line(GENERATOR_SYSTEM_PROMPT, f"prompt {i} {tag}", f"Oh, wonderful {i}.")
            if kind == "generator-reinforcement":
                references = {"preferred_reply": f"Sure, {i}."} if i % 2 else None
                return reinforcement_line(GENERATOR_SYSTEM_PROMPT, f"prompt {i} {tag}", references)
            return preference_line(
                f"prompt {i} {tag}", f"Sure, {i}.", f"No {i}.", system=GENERATOR_SYSTEM_PROMPT
            )

        files = {"train": range(train), "validation": range(train, train + validation)}
        for split, numbers in files.items():
            text = "".join(json.dumps(line(i)) + "\n" for i in numbers)
            (folder / f"{split}.jsonl").write_text(text, encoding="utf-8")
        return DatasetFiles(train=folder / "train.jsonl", validation=folder / "validation.jsonl")

    return make
