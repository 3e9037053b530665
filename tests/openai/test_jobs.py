"""Jobs on the openai backend: rebuild the index or the reward model, evaluate, promote or keep."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.openai_server import FakeOpenAI
from tests.openai.test_serving import settings_for
from tuning.config import Settings
from tuning.errors import NotFoundError
from tuning.lifecycle.builder import build_tuning_service
from tuning.models.label_calibration import LOGPROBS, P_IF_SARCASTIC
from tuning.models.serving import LiveModels
from tuning.records import Interaction
from tuning.store import open_store
from tuning.store.base import Store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield opened
    await opened.close()


async def approve(store: Store, index: int, prompt: str, reply: str) -> None:
    await store.add_interaction(
        Interaction(
            id=f"i{index}", team="T", channel="C", ts=f"{index}.0", kind="generate",
            input_text=prompt, output=reply, model_version="gen-old",
        )
    )  # fmt: skip
    await store.add_feedback(interaction_id=f"i{index}", user="U1", reaction="+1", rating=1)


async def test_an_sft_job_puts_new_approvals_into_the_prompt_once_promoted(
    tmp_path: Path, store: Store, fake_openai: FakeOpenAI
) -> None:
    settings = settings_for(tmp_path, fake_openai.url)
    models = await LiveModels.start(settings=settings, store=store)
    service = build_tuning_service(settings, store)
    try:
        for i in range(40):  # both splits: the job trains on some and is evaluated on others
            prompt = f"the staging database fell over, day {i}"
            await approve(store, i, prompt, f"Databases love a nap, {i}.")
        await models.reply("why did the staging database fall over")
        before = fake_openai.chat_bodies()[-1]["messages"]
        assert len(before) == 2  # system and message: the first version knew no approvals

        job = await service.launch(task="generator", method="sft", backend="openai", force=True)
        done = await service.wait(job.id)
        assert (done.state, done.outcome) == ("SUCCEEDED", "promoted"), done.error
        candidate = await store.active_model(task="generator")
        assert candidate is not None
        assert (candidate.backend, candidate.version) == ("openai", done.candidate_version)
        assert done.metrics["key"]

        assert await models.refresh()
        await models.reply("why did the staging database fall over")
        after = fake_openai.chat_bodies()[-1]["messages"]
        assert any(m["content"].startswith("Databases love a nap") for m in after[1:-1])
    finally:
        await service.close()
        await models.close()


async def test_a_preference_job_changes_which_candidate_wins(
    tmp_path: Path, store: Store, fake_openai: FakeOpenAI
) -> None:
    terse, chatty = "Noted.", "Oh great, the build is broken again, what a lovely surprise."
    fake_openai.script = lambda body, index, seed: (chatty, terse)[index % 2]
    settings = settings_for(tmp_path, fake_openai.url)
    models = await LiveModels.start(settings=settings, store=store)
    service = build_tuning_service(settings, store)
    try:
        assert (await models.reply("the build is broken again"))[0].text == chatty
        for i in range(40):  # people 👎 the chatty reply and 👍 the terse one they retried for
            prompt = f"the build is broken again, day {i}"
            first = Interaction(
                id=f"a{i}", team="T", channel="C", ts=f"{i}.1", kind="generate",
                input_text=prompt, output=chatty, model_version="gen-old",
            )  # fmt: skip
            retry = Interaction(
                id=f"b{i}", team="T", channel="C", ts=f"{i}.2", kind="generate",
                input_text=prompt, output=terse, model_version="gen-old", parent_id=f"a{i}",
            )  # fmt: skip
            await store.add_interaction(first)
            await store.add_interaction(retry)
            await store.add_feedback(interaction_id=f"a{i}", user="U1", reaction="-1", rating=-1)
            await store.add_feedback(interaction_id=f"b{i}", user="U1", reaction="+1", rating=1)
        # Forced: evaluation scores each model's single reply (n=1), which no reward model
        # reranks, so it cannot see this job's gain yet (see the report on comparison.py).
        job = await service.launch(
            task="generator", method="preference", backend="openai", force=True
        )
        done = await service.wait(job.id)
        assert (done.state, done.outcome) == ("SUCCEEDED", "promoted"), done.metrics
        assert await models.refresh()
        assert (await models.reply("the build is broken again"))[0].text == terse
    finally:
        await service.close()
        await models.close()


async def test_a_job_without_a_configured_server_is_not_offered(store: Store) -> None:
    service = build_tuning_service(Settings(), store)
    try:
        with pytest.raises(NotFoundError, match="openai tuning backend is not available"):
            await service.launch(task="generator", method="sft", backend="openai")
    finally:
        await service.close()


async def test_a_classifier_job_calibrates_label_probabilities_without_logprobs(
    tmp_path: Path, store: Store, fake_openai: FakeOpenAI
) -> None:
    fake_openai.serves_logprobs = False
    fake_openai.script = lambda body, index, seed: "SARCASTIC"
    settings = settings_for(tmp_path, fake_openai.url, OPENAI_CLASSIFIER_MODEL="judge-1b")
    service = build_tuning_service(settings, store)
    try:
        job = await service.launch(task="classifier", method="sft", backend="openai")
        done = await service.wait(job.id)
        assert done.state == "SUCCEEDED", done.error
        assert done.candidate_version is not None
        model = await store.get_model(task="classifier", version=done.candidate_version)
        assert model is not None
        assert model.backend == "openai"
        assert 0.0 < model.metrics[P_IF_SARCASTIC] < 1.0  # measured on validation, smoothed
        assert model.metrics[LOGPROBS] == 1.0  # asked, and not refused: the server sent none
        assert {body["model"] for body in fake_openai.chat_bodies()} == {"judge-1b"}
    finally:
        await service.close()
