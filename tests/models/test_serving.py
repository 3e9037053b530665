"""LiveModels: first start trains and registers; refresh and polling follow the registry."""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Collection, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tuning.config import Settings
from tuning.datasets.basedata import ReplyPair, load_seed_messages, load_seed_pairs
from tuning.errors import ModelError
from tuning.models.builders import (
    build_classifier,
    build_generator,
    register,
    train_messages,
)
from tuning.models.loader import load_classifier, load_generator
from tuning.models.local_classifier import MODEL_FILE
from tuning.models.serving import LiveModels
from tuning.records import Candidate, ModelVersion, Prediction
from tuning.store.base import Store


@pytest.fixture(scope="module")
def prebuilt(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ModelVersion]:
    """Build two classifier and two generator versions once (no cross-validation)."""
    data_dir = tmp_path_factory.mktemp("prebuilt")
    seed = load_seed_messages()
    pairs = load_seed_pairs()
    extra = ReplyPair("the zeppelin hangar flooded", "Splendid, the zeppelin gets a swimming pool.")
    return {
        "clf1": build_classifier(data_dir, seed, cv_folds=0),
        "clf2": build_classifier(data_dir, seed[: len(seed) // 2], cv_folds=0),
        "gen1": build_generator(data_dir, pairs),
        "gen2": build_generator(data_dir, [*pairs, extra]),
    }


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", registry_poll_seconds=0.1, candidates=3)


async def activate(store: Store, *models: ModelVersion) -> None:
    for model in models:
        await register(store, model, promote=True)


async def test_first_start_trains_registers_and_promotes(
    sqlite_store: Store, settings: Settings
) -> None:
    live = await LiveModels.start(settings=settings, store=sqlite_store)
    versions = live.versions
    assert versions["classifier"].startswith("clf-")
    assert versions["generator"].startswith("gen-")
    for task in ("classifier", "generator"):
        active = await sqlite_store.active_model(task=task)
        assert active is not None
        assert active.version == versions[task]
        assert active.backend == "local"
        assert Path(active.artifact).is_relative_to(settings.data_dir.resolve() / "models" / task)
    clf = await sqlite_store.active_model(task="classifier")
    assert clf is not None
    # the seed's train split: its validation split is left for scoring tuned models
    assert clf.metrics["n_train"] == len(train_messages(load_seed_messages()))
    again = await LiveModels.start(settings=settings, store=sqlite_store)
    assert again.versions == versions
    assert len(await sqlite_store.list_models()) == 2
    await live.close()


async def test_concurrent_first_starts_train_once(sqlite_store: Store, settings: Settings) -> None:
    first, second = await asyncio.gather(
        LiveModels.start(settings=settings, store=sqlite_store),
        LiveModels.start(settings=settings, store=sqlite_store),
    )
    assert first.versions == second.versions
    assert len(await sqlite_store.list_models()) == 2


async def test_classify_and_reply(
    sqlite_store: Store, settings: Settings, prebuilt: dict[str, ModelVersion]
) -> None:
    await activate(sqlite_store, prebuilt["clf1"], prebuilt["gen1"])
    live = await LiveModels.start(settings=settings, store=sqlite_store)
    texts = ["oh great, the wifi is down again", "the wifi is back up, thanks IT"]
    predictions = await live.classify(texts)
    assert [p.text for p in predictions] == texts
    replies = await live.reply("the wifi is down again")
    assert len(replies) == settings.candidates
    assert [c.score for c in replies] == sorted((c.score for c in replies), reverse=True)
    assert len(await live.reply("the wifi is down again", n=7)) == 7


async def test_refresh_swaps_to_newly_promoted_versions(
    sqlite_store: Store, settings: Settings, prebuilt: dict[str, ModelVersion]
) -> None:
    await activate(sqlite_store, prebuilt["clf1"], prebuilt["gen1"])
    live = await LiveModels.start(settings=settings, store=sqlite_store)
    assert await live.refresh() is False
    await activate(sqlite_store, prebuilt["clf2"])
    assert await live.refresh() is True
    assert live.versions == {
        "classifier": prebuilt["clf2"].version,
        "generator": prebuilt["gen1"].version,
    }
    await activate(sqlite_store, prebuilt["gen2"])
    assert await live.refresh() is True
    assert live.versions["generator"] == prebuilt["gen2"].version
    replies = await live.reply("our zeppelin hangar flooded overnight", n=3)
    assert any("zeppelin" in c.text for c in replies)
    await sqlite_store.rollback(task="classifier")
    assert await live.refresh() is True
    assert live.versions["classifier"] == prebuilt["clf1"].version


async def test_unloadable_new_version_keeps_the_current_one(
    sqlite_store: Store, settings: Settings, prebuilt: dict[str, ModelVersion], tmp_path: Path
) -> None:
    await activate(sqlite_store, prebuilt["clf1"], prebuilt["gen1"])
    live = await LiveModels.start(settings=settings, store=sqlite_store)
    broken_dir = tmp_path / "broken"
    shutil.copytree(prebuilt["clf2"].artifact, broken_dir)
    (broken_dir / MODEL_FILE).write_bytes(b"garbage")
    broken = replace(prebuilt["clf2"], version="clf-broken", artifact=str(broken_dir))
    await activate(sqlite_store, broken)
    assert await live.refresh() is False
    assert live.versions["classifier"] == prebuilt["clf1"].version
    assert len(await live.classify(["still serving"])) == 1


async def test_polling_follows_a_promotion(
    sqlite_store: Store, settings: Settings, prebuilt: dict[str, ModelVersion]
) -> None:
    await activate(sqlite_store, prebuilt["clf1"], prebuilt["gen1"])
    live = await LiveModels.start(settings=settings, store=sqlite_store)
    poller = asyncio.create_task(live.run_polling())
    try:
        await activate(sqlite_store, prebuilt["clf2"])
        for _ in range(100):
            if live.versions["classifier"] == prebuilt["clf2"].version:
                break
            await asyncio.sleep(0.05)
        assert live.versions["classifier"] == prebuilt["clf2"].version
    finally:
        poller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await poller
        await live.close()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"backend": "mystery"}, "unknown model backend 'mystery'"),
        ({"task": "generator"}, "is a generator, not a classifier"),
        ({"artifact": "/nonexistent/model"}, "/nonexistent/model/meta.json"),
    ],
)
def test_loader_refuses_what_it_cannot_serve(
    prebuilt: dict[str, ModelVersion], settings: Settings, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ModelError, match=message):
        load_classifier(replace(prebuilt["clf1"], **change), settings)


def test_loader_checks_the_version_in_the_artifact(
    prebuilt: dict[str, ModelVersion], settings: Settings
) -> None:
    with pytest.raises(ModelError, match="expected clf-other"):
        load_classifier(replace(prebuilt["clf1"], version="clf-other"), settings)


class ClosingClassifier:
    """A classifier holding a connection, like a Vertex endpoint client."""

    version = "clf-remote"

    def __init__(self) -> None:
        self.closed = 0

    async def classify(self, texts: Sequence[str]) -> list[Prediction]:
        return [Prediction(text=t, label="not_sarcastic", probability=0.0) for t in texts]

    async def aclose(self) -> None:
        self.closed += 1


async def test_swapped_out_models_are_closed_after_a_grace_period(
    sqlite_store: Store,
    settings: Settings,
    prebuilt: dict[str, ModelVersion],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("tuning.models.serving.RETIRE_AFTER_SECONDS", 0.05)
    await activate(sqlite_store, prebuilt["clf1"], prebuilt["gen1"])
    remote = ClosingClassifier()
    generator = load_generator(prebuilt["gen1"], settings)
    live = LiveModels(settings=settings, store=sqlite_store, classifier=remote, generator=generator)
    assert await live.refresh() is True
    assert remote.closed == 0  # requests in flight may still be using it
    for _ in range(40):
        if remote.closed:
            break
        await asyncio.sleep(0.05)
    assert remote.closed == 1
    still_open = ClosingClassifier()
    other = LiveModels(
        settings=settings, store=sqlite_store, classifier=still_open, generator=generator
    )
    await other.close()
    assert still_open.closed == 1


class FailingToClose(ClosingClassifier):
    """A classifier whose connection breaks while it is being closed."""

    async def aclose(self) -> None:
        await super().aclose()
        raise OSError("connection reset; token=secret-token-123")


class ClosingGenerator:
    """A generator holding a connection, like a Vertex endpoint client."""

    version = "gen-remote"

    def __init__(self) -> None:
        self.closed = 0

    async def generate(
        self, prompt: str, *, n: int, exclude: Collection[str] = ()
    ) -> list[Candidate]:
        return [Candidate(text="oh sure", score=0.0)] * n

    async def aclose(self) -> None:
        self.closed += 1


async def test_a_model_failing_to_close_is_logged_and_the_other_still_closed(
    sqlite_store: Store, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    classifier, generator = FailingToClose(), ClosingGenerator()
    live = LiveModels(
        settings=settings, store=sqlite_store, classifier=classifier, generator=generator
    )
    with caplog.at_level(logging.WARNING, logger="tuning.models.serving"):
        await live.close()
    assert (classifier.closed, generator.closed) == (1, 1)
    assert "could not close model clf-remote (OSError)" in caplog.text
    assert "secret-token-123" not in caplog.text


async def test_retry_offers_replies_not_yet_shown(
    sqlite_store: Store, settings: Settings, prebuilt: dict[str, ModelVersion]
) -> None:
    await activate(sqlite_store, prebuilt["clf1"], prebuilt["gen1"])
    live = await LiveModels.start(settings=settings, store=sqlite_store)
    prompt = "the wifi is down again"
    first = await live.reply(prompt, n=1)
    assert await live.reply(prompt, n=1) == first
    shown = [first[0].text]
    for _ in range(5):
        [fresh] = await live.retry(prompt, shown=shown, n=1)
        assert fresh.text not in shown
        shown.append(fresh.text)
