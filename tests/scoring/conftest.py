"""Fixtures for the reward scorer: a seed classifier and the scorer served on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from tuning.datasets.basedata import load_seed_messages
from tuning.models.local_classifier import LocalClassifier, train_classifier
from tuning.models.reward import RewardModel
from tuning.scoring.app import build_app
from tuning.scoring.scorer import Scorer


@pytest.fixture(scope="session")
def seed_classifier() -> LocalClassifier:
    """Return a classifier trained on the shipped seed messages (no cross-validation)."""
    seed = load_seed_messages()
    pipeline, _ = train_classifier([m.text for m in seed], [m.label for m in seed], cv_folds=0)
    return LocalClassifier(pipeline, version="clf-test")


@pytest.fixture
def scorer(seed_classifier: LocalClassifier) -> Scorer:
    return Scorer(reward=RewardModel(), classifier=seed_classifier)


async def serve(scorer: Scorer) -> tuple[web.AppRunner, str]:
    """Serve ``scorer`` on a free 127.0.0.1 port; return the runner and the service URL."""
    runner = web.AppRunner(build_app(scorer), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/"


@pytest.fixture
async def scorer_url(scorer: Scorer) -> AsyncIterator[str]:
    runner, url = await serve(scorer)
    yield url
    await runner.cleanup()
