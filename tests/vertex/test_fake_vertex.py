"""The fake Vertex server refuses what Vertex refuses, seen through the real google-genai client.

Each refusal is listed with its source in tests/fakes/SOURCES.md.
"""

from __future__ import annotations

import warnings
from typing import Any

import aiohttp
import pytest
from google.genai import errors, types

from tests.fakes.vertex_server import (
    CANDIDATES_REFUSED,
    LOGPROBS_REFUSED,
    FakeVertex,
    text_candidate,
)
from tests.vertex.conftest import PROJECT, REGION
from tuning.config import VertexSettings

PARENT = f"projects/{PROJECT}/locations/{REGION}"
ENDPOINT = f"{PARENT}/endpoints/5"
SFT = types.TuningMethod.SUPERVISED_FINE_TUNING


async def tune(client: Any, base_model: str, uri: str = "gs://b/train.jsonl", **config: Any) -> Any:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The SDK's tuning implementation")
        call = client.aio.tunings.tune(
            base_model=base_model,
            training_dataset=types.TuningDataset(gcs_uri=uri),
            config=types.CreateTuningJobConfig(method=SFT, **config),
        )
    return await call


def assert_invalid(caught: pytest.ExceptionInfo[errors.APIError], message: str) -> None:
    assert (caught.value.code, caught.value.status) == (400, "INVALID_ARGUMENT")
    assert message in (caught.value.message or "")


@pytest.fixture
def client(make_client: Any, vertex_settings: VertexSettings) -> Any:
    return make_client(vertex_settings)


@pytest.mark.parametrize(
    ("base_model", "uri", "config", "message"),
    [
        ("gemini-9-ultra", "gs://b/t.jsonl", {}, "is not supported for tuning"),
        ("gemini-3.5-flash", "/home/me/t.jsonl", {}, "must be a Cloud Storage URI"),
        ("gemini-3.5-flash", "https://x/t.jsonl", {}, "must be a Cloud Storage URI"),
        (
            "gemini-3.5-flash",
            "gs://b/t.jsonl",
            {"adapter_size": types.AdapterSize.ADAPTER_SIZE_THIRTY_TWO},
            "Adapter size",
        ),
        ("gemini-3.5-flash", "gs://b/t.jsonl", {"labels": {"Job": "x"}}, "Invalid label"),
    ],
)
async def test_create_refuses_what_vertex_refuses(
    client: Any, fake_vertex: FakeVertex, base_model: str, uri: str, config: Any, message: str
) -> None:
    with pytest.raises(errors.ClientError) as caught:
        await tune(client, base_model, uri, **config)
    assert_invalid(caught, message)
    assert fake_vertex.jobs == {}


@pytest.mark.parametrize(
    "body",
    [
        {"supervisedTuningSpec": {"trainingDatasetUri": "gs://b/t.jsonl"}},
        {
            "baseModel": "gemini-3.5-flash",
            "preTunedModel": {"tunedModelName": f"{PARENT}/models/1"},
            "supervisedTuningSpec": {"trainingDatasetUri": "gs://b/t.jsonl"},
        },
    ],
    ids=["neither", "both"],
)
async def test_create_needs_exactly_one_of_base_model_and_pre_tuned_model(
    fake_vertex: FakeVertex, body: dict[str, Any]
) -> None:
    # The SDK cannot send these bodies, so they go over plain HTTP.
    async with aiohttp.ClientSession(headers={"Authorization": "Bearer test"}) as session:
        response = await session.post(f"{fake_vertex.url}/v1beta1/{PARENT}/tuningJobs", json=body)
        payload = await response.json()
    assert response.status == 400
    assert payload["error"]["status"] == "INVALID_ARGUMENT"
    assert "Exactly one of base_model and pre_tuned_model" in payload["error"]["message"]
    assert fake_vertex.jobs == {}


async def test_lists_come_in_pages_narrowed_by_a_label_filter(
    client: Any, fake_vertex: FakeVertex
) -> None:
    for i in range(5):
        await tune(client, "gemini-3.5-flash", labels={"app": "a", "n": f"n{i % 2}"})

    pager = await client.aio.tunings.list(config=types.ListTuningJobsConfig(page_size=2))
    names = [job.name async for job in pager]
    assert names == [f"{PARENT}/tuningJobs/{i}" for i in (5, 4, 3, 2, 1)]
    pages = [r.query for r in fake_vertex.requests if r.method == "GET"]
    assert [q.get("pageSize") for q in pages] == ["2", "2", "2"]
    assert "pageToken" in pages[1]

    config = types.ListTuningJobsConfig(filter='labels.app="a" AND labels.n="n1"')
    pager = await client.aio.tunings.list(config=config)
    assert [job.name async for job in pager] == [f"{PARENT}/tuningJobs/{i}" for i in (4, 2)]

    with pytest.raises(errors.ClientError) as caught:
        await client.aio.tunings.list(config=types.ListTuningJobsConfig(filter="state=RUNNING"))
    assert_invalid(caught, "Unsupported filter")


async def test_a_cancelled_job_passes_through_cancelling(client: Any) -> None:
    job = await tune(client, "gemini-3.5-flash")
    await client.aio.tunings.cancel(name=job.name)
    states = [(await client.aio.tunings.get(name=job.name)).state for _ in range(2)]
    assert states == [types.JobState.JOB_STATE_CANCELLING, types.JobState.JOB_STATE_CANCELLED]


@pytest.mark.parametrize(
    ("model", "config", "message"),
    [
        ("gemini-3.5-flash-lite", {"response_logprobs": True, "logprobs": 3}, LOGPROBS_REFUSED),
        ("gemini-3.5-flash", {"candidate_count": 2}, CANDIDATES_REFUSED),
        ("gemini-2.5-flash", {"candidate_count": 9}, "supported range"),
    ],
)
async def test_serving_refuses_what_the_model_refuses(
    client: Any, fake_vertex: FakeVertex, model: str, config: Any, message: str
) -> None:
    fake_vertex.respond(ENDPOINT, lambda body: [text_candidate("ok")], model=model)
    with pytest.raises(errors.ClientError) as caught:
        await client.aio.models.generate_content(
            model=ENDPOINT, contents="hi", config=types.GenerateContentConfig(**config)
        )
    assert_invalid(caught, message)


async def test_older_models_and_the_switch_allow_several_candidates(
    client: Any, fake_vertex: FakeVertex
) -> None:
    fake_vertex.respond(ENDPOINT, lambda body: [text_candidate("ok")], model="gemini-2.5-flash")
    config = types.GenerateContentConfig(candidate_count=3, response_logprobs=True, logprobs=1)
    response = await client.aio.models.generate_content(
        model=ENDPOINT, contents="hi", config=config
    )
    assert len(response.candidates or []) == 3

    fake_vertex.multiple_candidates = False
    with pytest.raises(errors.ClientError) as caught:
        await client.aio.models.generate_content(
            model=ENDPOINT, contents="hi", config=types.GenerateContentConfig(candidate_count=2)
        )
    assert_invalid(caught, CANDIDATES_REFUSED)


async def test_a_dropped_create_is_applied_but_never_answered(
    client: Any, fake_vertex: FakeVertex
) -> None:
    fake_vertex.drop_connection(match="/tuningJobs", method="POST")
    no_retry = types.HttpOptions(retry_options=types.HttpRetryOptions(attempts=1))
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await tune(client, "gemini-3.5-flash", http_options=no_retry)
    assert list(fake_vertex.jobs) == [f"{PARENT}/tuningJobs/1"]
