"""Fixtures for the OpenAI-compatible backend: the fake server and settings pointing at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.openai_server import FakeOpenAI, start_fake_openai
from tuning.config import OpenAISettings

MODEL = "sarcasm-7b"


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    """Run the fake OpenAI-compatible server on a free loopback port."""
    fake = FakeOpenAI(models=(MODEL, "judge-1b"))
    runner = await start_fake_openai(fake)
    yield fake
    await runner.cleanup()


@pytest.fixture
def openai_settings(fake_openai: FakeOpenAI) -> OpenAISettings:
    """Settings for the fake: short timeouts, two attempts per request."""
    return OpenAISettings(
        base_url=fake_openai.url, model=MODEL, timeout_seconds=2.0, retry_attempts=2
    )
