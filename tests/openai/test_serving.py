"""MODEL_BACKEND=openai at startup: the server checked, openai versions made, exemplars sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.openai_server import FakeOpenAI
from tests.openai.conftest import MODEL
from tuning.config import Settings
from tuning.datasets.examples import text_split
from tuning.errors import ModelError
from tuning.models.serving import LiveModels
from tuning.records import Interaction, model_manifest_id
from tuning.store import open_store
from tuning.store.base import Store


def settings_for(tmp_path: Path, url: str, **extra: str) -> Settings:
    env = {
        "MODEL_BACKEND": "openai",
        "OPENAI_BASE_URL": url,
        "OPENAI_MODEL": MODEL,
        "OPENAI_RETRY_ATTEMPTS": "1",
        "STORE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "DATA_DIR": str(tmp_path / "data"),
    }
    return Settings.from_env(env | extra)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield opened
    await opened.close()


def train_prompt(stem: str) -> str:
    """Return a prompt about ``stem`` that the datasets put in the train split."""
    return next(p for i in range(100) if text_split(p := f"{stem} #{i}") == "train")


async def test_startup_serves_the_server_with_approved_replies_as_exemplars(
    tmp_path: Path, store: Store, fake_openai: FakeOpenAI
) -> None:
    prompt = train_prompt("the deploy pipeline is red again")
    reply = Interaction(
        id="i1", team="T", channel="C", ts="1.0", kind="generate", input_text=prompt,
        output="A red pipeline, how novel.", model_version="gen-old",
    )  # fmt: skip
    await store.add_interaction(reply)
    await store.add_feedback(interaction_id="i1", user="U1", reaction="+1", rating=1)
    models = await LiveModels.start(settings=settings_for(tmp_path, fake_openai.url), store=store)
    try:
        active = await store.active_model(task="generator")
        assert active is not None
        assert active.backend == "openai"
        assert active.metrics["n_exemplars"] == 1.0
        # Its index holds the approved reply's text, so its manifest lists it (and the index).
        held = await store.get_manifest(model_manifest_id(task="generator", version=active.version))
        assert held is not None
        assert (held.record_ids, held.locations) == (frozenset({"i1"}), (active.artifact,))
        assert held.oldest == reply.created_at
        candidates = await models.reply("why is the deploy pipeline red")
        assert len(candidates) == 4  # GENERATOR_CANDIDATES, reranked
        body = fake_openai.chat_bodies()[0]
        assert body["n"] == 4
        assert {"role": "assistant", "content": "A red pipeline, how novel."} in body["messages"]
        classifier = await store.active_model(task="classifier")
        assert classifier is not None
        assert classifier.backend == "local"  # no OPENAI_CLASSIFIER_MODEL
    finally:
        await models.close()


async def test_a_second_start_keeps_the_active_openai_version(
    tmp_path: Path, store: Store, fake_openai: FakeOpenAI
) -> None:
    settings = settings_for(tmp_path, fake_openai.url, OPENAI_CLASSIFIER_MODEL="judge-1b")
    first = await LiveModels.start(settings=settings, store=store)
    await first.close()
    second = await LiveModels.start(settings=settings, store=store)
    await second.close()
    assert first.versions == second.versions
    assert len(await store.list_models(task="generator")) == 1
    classifier = await store.active_model(task="classifier")
    assert classifier is not None
    assert classifier.backend == "openai"


async def test_a_dead_server_is_one_line_naming_openai_base_url_and_changes_nothing(
    tmp_path: Path, store: Store
) -> None:
    settings = settings_for(tmp_path, "http://127.0.0.1:9/v1")
    with pytest.raises(ModelError) as caught:
        await LiveModels.start(settings=settings, store=store)
    assert str(caught.value).startswith("OPENAI_BASE_URL: cannot reach http://127.0.0.1:9/v1")
    assert await store.list_models() == []


async def test_a_model_the_server_does_not_serve_names_openai_model(
    tmp_path: Path, store: Store, fake_openai: FakeOpenAI
) -> None:
    settings = settings_for(tmp_path, fake_openai.url, OPENAI_MODEL="llama-99")
    with pytest.raises(ModelError, match=r"^OPENAI_MODEL: .* 'llama-99' \(it serves: judge-1b, "):
        await LiveModels.start(settings=settings, store=store)
