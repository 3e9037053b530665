"""Reinforcement tuning against the fake Vertex, which calls our real reward scorer as Vertex would.

The scorer (``tuning.scoring.app``) runs on loopback; the fake reads the uploaded training set
from the GCS emulator, POSTs the documented body for each sampled response and checks each
answer (a float in [-1, 1] within its timeout).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from tests.fakes.vertex_reinforcement import scorer_uri, spec_problem
from tests.fakes.vertex_server import FakeVertex
from tests.scoring.conftest import serve
from tests.vertex.conftest import BUCKET, DatasetMaker
from tuning.backends.vertex_spec import REWARD_NAME
from tuning.config import VertexSettings
from tuning.errors import BackendError
from tuning.models.reward import RewardModel
from tuning.records import JobRecord
from tuning.scoring.scorer import Scorer

pytestmark = pytest.mark.emulator
JOB = JobRecord(id="job-rl", task="generator", method="reinforcement", backend="vertex")


@pytest.fixture
async def scorer_url() -> AsyncIterator[str]:
    runner, url = await serve(Scorer(reward=RewardModel()))
    yield url
    await runner.cleanup()


@pytest.fixture
def reads_gcs(fake_vertex: FakeVertex, storage_client: Any) -> FakeVertex:
    """Let the fake read what the backend uploaded, as Vertex reads the bucket."""

    def read(uri: str) -> str:
        bucket, _, name = uri.removeprefix("gs://").partition("/")
        text: str = storage_client.bucket(bucket).blob(name).download_as_text()
        return text

    fake_vertex.read_dataset = read
    return fake_vertex


def settings_with(vertex: VertexSettings, **changes: Any) -> VertexSettings:
    return dataclasses.replace(vertex, **changes)


async def finish(backend: Any, job: JobRecord) -> str:
    for _ in range(10):
        status = await backend.status(job=job)
        if status.state in ("SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED"):
            return f"{status.state} {status.error or ''}".strip()
    raise AssertionError("the job never ended")


async def test_dry_run_validates_the_reward_on_a_few_prompts_before_any_job(
    make_backend: Any,
    make_dataset: DatasetMaker,
    vertex_settings: VertexSettings,
    fake_vertex: FakeVertex,
    scorer_url: str,
) -> None:
    vertex = settings_with(vertex_settings, reward_url=scorer_url, reward_checks=3)
    found = await make_backend(vertex).preflight(
        job=JOB, dataset=make_dataset("generator-reinforcement")
    )
    rewards = found["reward_check"]
    assert len(rewards) == 3
    assert all(-1.0 <= r <= 1.0 for r in rewards)
    checks = fake_vertex.bodies("POST", ":validateReinforcementTuningReward")
    assert len(checks) == 3
    assert not fake_vertex.bodies("POST", "/tuningJobs")  # nothing created, nothing spent
    first = checks[0]
    assert scorer_uri(first) == scorer_url
    assert first["example"]["contents"][0]["role"] == "user"
    assert "systemInstruction" in first["example"]
    # The second line has a preferred reply: the dry run offers it as the sample response.
    assert (
        checks[1]["sampleResponse"]["parts"][0]["text"]
        == checks[1]["example"]["references"]["preferred_reply"]
    )
    assert [call.reward for call in fake_vertex.scorer_calls] == pytest.approx(rewards, abs=1e-4)


async def test_a_scorer_that_is_down_stops_the_job_at_the_dry_run(
    make_backend: Any, make_dataset: DatasetMaker, vertex_settings: VertexSettings
) -> None:
    vertex = settings_with(vertex_settings, reward_url="http://127.0.0.1:9/")
    with pytest.raises(BackendError, match=r"failed its dry run: .*no answer"):
        await make_backend(vertex).preflight(
            job=JOB, dataset=make_dataset("generator-reinforcement")
        )


async def test_the_job_carries_the_scorer_and_hyperparameters_and_vertex_calls_the_scorer(
    make_backend: Any,
    make_dataset: DatasetMaker,
    vertex_settings: VertexSettings,
    reads_gcs: FakeVertex,
    scorer_url: str,
) -> None:
    vertex = settings_with(
        vertex_settings,
        reward_url=scorer_url,
        samples_per_prompt=3,
        max_output_tokens=256,
        epochs=2,
    )
    reads_gcs.rollout_responses = lambda line: ["Oh great, another prompt.", "ok", ""]
    dataset = make_dataset("generator-reinforcement", train=6, validation=2)
    backend = make_backend(vertex)
    job = dataclasses.replace(
        JOB, remote_name=await backend.start(job=JOB, dataset=dataset, base=None)
    )

    (body,) = reads_gcs.bodies("POST", "/tuningJobs")
    assert "supervisedTuningSpec" not in body
    assert "preferenceOptimizationSpec" not in body
    spec = body["reinforcementTuningSpec"]
    assert spec["trainingDatasetUri"].startswith(f"gs://{BUCKET}/")
    assert spec["validationDatasetUri"].startswith(f"gs://{BUCKET}/")
    assert spec["hyperParameters"] == {
        "epochCount": 2,
        "samplesPerPrompt": 3,
        "maxOutputTokens": 256,
    }
    assert spec["singleRewardConfig"]["rewardName"] == REWARD_NAME
    assert scorer_uri(spec) == scorer_url
    assert body["labels"]["method"] == "reinforcement"

    assert await finish(backend, job) == "SUCCEEDED"
    lines = [json.loads(line) for line in dataset.train.read_text().splitlines()]
    calls = reads_gcs.scorer_calls
    assert len(calls) == 6 * 3
    assert [call.problem for call in calls] == [""] * len(calls)
    assert all(call.reward is not None and -1.0 <= call.reward <= 1.0 for call in calls)
    assert [call.body["example"] for call in calls[::3]] == lines  # the uploaded lines, as is
    assert {call.body["metadata"]["tuning_job_id"] for call in calls} == {1}
    assert [call.body["metadata"]["step"] for call in calls[::3]] == list(range(1, 7))
    empty = [call.reward for call in calls if not call.body["response"]["parts"][0]["text"]]
    assert empty == [-1.0] * 6


async def test_a_scorer_answering_out_of_range_fails_the_job(
    make_backend: Any,
    make_dataset: DatasetMaker,
    vertex_settings: VertexSettings,
    reads_gcs: FakeVertex,
) -> None:
    async def too_big(request: web.Request) -> web.Response:
        return web.json_response({"reward": 2.5})

    app = web.Application()
    app.router.add_post("/", too_big)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
    try:
        backend = make_backend(settings_with(vertex_settings, reward_url=url))
        dataset = make_dataset("generator-reinforcement")
        name = await backend.start(job=JOB, dataset=dataset, base=None)
        outcome = await finish(backend, dataclasses.replace(JOB, remote_name=name))
    finally:
        await runner.cleanup()
    assert outcome.startswith("FAILED")
    assert "outside [-1, 1]" in outcome


async def test_no_reward_url_is_refused_before_anything_is_sent(
    make_backend: Any, make_dataset: DatasetMaker, fake_vertex: FakeVertex
) -> None:
    with pytest.raises(BackendError, match="VERTEX_REWARD_URL"):
        await make_backend().start(
            job=JOB, dataset=make_dataset("generator-reinforcement"), base=None
        )
    assert not fake_vertex.bodies("POST", "/tuningJobs")


async def test_the_fake_refuses_a_scorer_url_vertex_could_not_call(
    make_backend: Any, make_dataset: DatasetMaker, vertex_settings: VertexSettings
) -> None:
    backend = make_backend(settings_with(vertex_settings, reward_url="http://10.1.2.3/"))
    with pytest.raises(BackendError, match="not an https URL"):
        await backend.start(job=JOB, dataset=make_dataset("generator-reinforcement"), base=None)


URI = {"cloudRunRewardScorer": {"cloudRunUri": "https://scorer.run.app/"}}


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"trainingDatasetUri": "gs://b/t", "singleRewardConfig": URI}, None),
        ({"trainingDatasetUri": "gs://b/t"}, "Exactly one of single_reward_config"),
        (
            {"singleRewardConfig": URI, "compositeRewardConfig": {"weightedRewardConfigs": []}},
            "Exactly one of single_reward_config",
        ),
        ({"singleRewardConfig": {"rewardName": "r"}}, "Exactly one reward scorer"),
        ({"singleRewardConfig": URI, "rewardConfig": {}}, 'Unknown name "rewardConfig"'),
        (
            {"singleRewardConfig": URI, "hyperParameters": {"epochCount": 1, "stepCount": 5}},
            "mutually exclusive",
        ),
        (
            {"singleRewardConfig": URI, "hyperParameters": {"samplesPerPrompt": 0}},
            "samplesPerPrompt",
        ),
        (
            {"singleRewardConfig": URI, "hyperParameters": {"maxOutputTokens": 40000}},
            "maxOutputTokens",
        ),
        (
            {"singleRewardConfig": URI, "hyperParameters": {"temperature": 1}},
            'Unknown name "temperature"',
        ),
    ],
)
def test_the_fake_checks_reinforcement_specs(spec: dict[str, Any], problem: str | None) -> None:
    found = spec_problem(spec)
    assert (found is None) if problem is None else (problem in (found or ""))
