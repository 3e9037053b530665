"""Fixtures for the privacy tests: settings, the privacy service, and a GCS that can say 403."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.vertex.conftest import BUCKET, gcs_emulator, storage_client  # noqa: F401 - fixtures
from tuning.cloud.uploads import DatasetUploader
from tuning.config import Settings
from tuning.lifecycle.rebuild import LocalRebuild
from tuning.privacy.erase import PrivacyService
from tuning.store.base import Store

BUCKET_URL = f"gs://{BUCKET}/runs"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose data dir lives in tmp_path (the store file is outside it)."""
    return Settings(data_dir=tmp_path / "data", store_url=f"sqlite:///{tmp_path / 'store.db'}")


def privacy_service(
    store: Store, settings: Settings, objects: DatasetUploader | None = None
) -> PrivacyService:
    """Return the service as the builder wires it, with ``objects`` for the bucket."""
    return PrivacyService(store, settings, rebuild=LocalRebuild(store, settings), objects=objects)


@dataclass
class GcsGate:
    """A proxy in front of the GCS emulator that refuses deletes with 403 while ``refusing``."""

    url: str
    refusing: bool = False
    refused: list[str] = field(default_factory=list)


@pytest.fixture
async def gcs_gate(gcs_emulator: str) -> AsyncIterator[GcsGate]:  # noqa: F811 - the fixture
    """Run the proxy; GCS's real 403 body, as for a service account without objectAdmin.

    Sources for the body (the JSON API's error shape, with ``domain`` and ``reason`` in each
    entry of ``errors``): https://cloud.google.com/storage/docs/json_api/v1/status-codes
    (403 forbidden); real answers quoted in google-github-actions/upload-cloud-storage#388 and
    firebase/firebase-admin-node#757 ("... does not have storage.objects.delete access to the
    Google Cloud Storage object.").
    """
    session = aiohttp.ClientSession(auto_decompress=False)
    gate = GcsGate(url="")

    async def forward(request: web.Request) -> web.StreamResponse:
        if gate.refusing and request.method == "DELETE":
            gate.refused.append(request.path)
            message = (
                "sa@p1.iam.gserviceaccount.com does not have storage.objects.delete access "
                "to the Google Cloud Storage object."
            )
            entry = {"message": message, "domain": "global", "reason": "forbidden"}
            error = {"code": 403, "message": message, "errors": [entry]}
            return web.json_response({"error": error}, status=403)
        skip = {"host", "content-length", "transfer-encoding"}
        headers = {k: v for k, v in request.headers.items() if k.lower() not in skip}
        async with session.request(
            request.method,
            gcs_emulator + request.path_qs,
            headers=headers,
            data=await request.read(),
            allow_redirects=False,
        ) as answer:
            body = await answer.read()
            drop = {"content-length", "transfer-encoding", "connection"}
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in drop}
            return web.Response(status=answer.status, body=body, headers=kept)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    gate.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield gate
    await runner.cleanup()
    await session.close()


@pytest.fixture
def gated_client(gcs_gate: GcsGate, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A real storage client whose requests pass through the gate."""
    import google.cloud.storage as storage  # type: ignore[import-untyped]
    from google.auth.credentials import AnonymousCredentials

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_gate.url)
    client = storage.Client(project="test", credentials=AnonymousCredentials())
    yield client
    client.close()
