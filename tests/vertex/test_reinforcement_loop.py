"""``run --method reinforcement`` end to end: prompts, dry run, job, scorer calls, promotion.

Wired as in production (see test_vertex_loop.py): the real reward scorer, learnt from the
store's ratings, serves on loopback; the fake Vertex calls it during validate_reward and the job.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.vertex_server import FakeVertex, text_candidate
from tests.scoring.conftest import serve
from tests.tuning_loop.factories import add_replies
from tests.vertex.conftest import BUCKET, PROJECT, REGION
from tests.vertex.test_vertex_loop import cli, cli_settings, production_env
from tuning.datasets.formats import validate_reinforcement
from tuning.prompts import GENERATOR_SYSTEM_PROMPT
from tuning.scoring.source import load_scorer
from tuning.store import open_store

pytestmark = [pytest.mark.slow, pytest.mark.emulator]
__all__ = ["production_env"]  # a fixture this module uses
ENDPOINT = f"projects/{PROJECT}/locations/{REGION}/endpoints/7001"


@pytest.fixture
async def scorer_url(tmp_path: Path) -> AsyncIterator[str]:
    settings = cli_settings(tmp_path)
    store = await open_store(settings.store_url)
    await add_replies(store, 60)
    scorer = await load_scorer(store, settings)
    await store.close()
    assert scorer.reward.n_ratings == 120
    assert scorer.reward.n_pairs == 60
    runner, url = await serve(scorer)
    yield url
    await runner.cleanup()


async def test_a_reinforcement_job_dry_runs_the_reward_then_trains_against_the_scorer(
    production_env: None,
    fake_vertex: FakeVertex,
    storage_client: Any,
    tmp_path: Path,
    scorer_url: str,
) -> None:
    settings = cli_settings(
        tmp_path, VERTEX_REWARD_URL=scorer_url, VERTEX_SAMPLES_PER_PROMPT="2", PROMOTION_MARGIN="0"
    )
    fake_vertex.read_dataset = lambda uri: (
        storage_client.bucket(BUCKET).blob(uri.removeprefix(f"gs://{BUCKET}/")).download_as_text()
    )
    fake_vertex.respond(ENDPOINT, lambda body: [text_candidate("Oh sure, totally fixed.")])

    args = ("run", "--task", "generator", "--method", "reinforcement", "--backend", "vertex")
    assert await cli(settings, *args) == 0

    paths = [r.path for r in fake_vertex.requests if r.method == "POST"]
    checks = [i for i, p in enumerate(paths) if p.endswith(":validateReinforcementTuningReward")]
    (create,) = [i for i, p in enumerate(paths) if p.endswith("/tuningJobs")]
    assert len(checks) == settings.vertex.reward_checks
    assert max(checks) < create
    body = fake_vertex.bodies("POST", "/tuningJobs")[0]
    uri = body["reinforcementTuningSpec"]["trainingDatasetUri"]
    blob = storage_client.bucket(BUCKET).blob(uri.removeprefix(f"gs://{BUCKET}/"))
    lines = [json.loads(line) for line in blob.download_as_text().splitlines()]
    assert len(lines) >= 20  # one per distinct prompt, retries folded into their first message
    for line in lines:
        assert validate_reinforcement(line) == []
        assert line["systemInstruction"] == {"parts": [{"text": GENERATOR_SYSTEM_PROMPT}]}
        assert "totally fixed" in line["references"]["preferred_reply"]  # the human-preferred reply

    for _ in range(6):
        assert await cli(settings, "tick") == 0
        store = await open_store(settings.store_url)
        (job,) = [j for j in await store.list_jobs(limit=10) if j.method == "reinforcement"]
        await store.close()
        if job.ended:
            break
    assert (job.method, job.state, job.error) == ("reinforcement", "SUCCEEDED", None)
    assert job.outcome in ("promoted", "kept")
    assert len(job.config["reward_check"]) == settings.vertex.reward_checks
    rollouts = fake_vertex.scorer_calls[settings.vertex.reward_checks :]
    assert len(rollouts) == 2 * len(lines)
    assert all(not call.problem for call in rollouts)
    assert fake_vertex.bodies("POST", f"{ENDPOINT}:generateContent")  # evaluated on its endpoint
