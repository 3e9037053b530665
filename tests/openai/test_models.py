"""The OpenAI-compatible generator and classifier against the fake server, through the real SDK."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAI, Fault, Scripted
from tuning.config import OpenAISettings
from tuning.errors import ModelError
from tuning.models.few_shot import Exemplar, LabelledExample
from tuning.models.label_calibration import P_IF_NOT_SARCASTIC, P_IF_SARCASTIC
from tuning.models.openai_chat import ChatModel, OpenAIClassifier, OpenAIGenerator
from tuning.models.ranking import best_replies
from tuning.models.reward import RewardModel


@pytest.fixture
async def make() -> AsyncIterator[Callable[..., Any]]:
    """Build models and close their clients after the test."""
    made: list[ChatModel] = []

    def build(kind: type[ChatModel], settings: OpenAISettings, **options: Any) -> Any:
        model = kind(version="v1", model=settings.model, settings=settings, **options)
        made.append(model)
        return model

    yield build
    for model in made:
        await model.aclose()


async def test_n_candidates_in_one_call_where_the_server_honours_n(
    make: Callable[..., Any], openai_settings: OpenAISettings, fake_openai: FakeOpenAI
) -> None:
    generator = make(OpenAIGenerator, openai_settings)
    candidates = await generator.generate("the build is red", n=3)
    assert len(candidates) == 3
    assert [body.get("n") for body in fake_openai.chat_bodies()] == [3]


async def test_distinct_seeds_where_the_server_ignores_n(
    make: Callable[..., Any], openai_settings: OpenAISettings, fake_openai: FakeOpenAI
) -> None:
    fake_openai.honours_n = False
    fake_openai.script = lambda body, index, seed: f"Sure, {seed}."
    generator = make(OpenAIGenerator, openai_settings)
    first = await generator.generate("the build is red", n=4)
    again = await generator.generate("the build is red", n=4)
    assert len(first) == 4
    assert len(again) == 4
    later = fake_openai.chat_bodies()[4:]
    assert [body.get("n") for body in later] == [None] * 4  # it stopped asking for n
    seeds = [body["seed"] for body in fake_openai.chat_bodies()[1:]]
    assert len(set(seeds)) == len(seeds)


async def test_best_of_n_posts_the_candidate_the_reward_model_ranks_first(
    make: Callable[..., Any], openai_settings: OpenAISettings, fake_openai: FakeOpenAI
) -> None:
    replies = ["ok", "Oh great, the build is red again. What a surprise."]
    fake_openai.script = lambda body, index, seed: replies[index % 2]
    generator = make(OpenAIGenerator, openai_settings)
    best = await best_replies(generator, None, "the build is red", n=2)
    assert best[0].text == replies[1]
    # A reward model that learnt to prefer terse replies turns the order round.
    terse = RewardModel().fit(
        [("the build is red", "ok", replies[1])] * 30, ratings=[("the build is red", "ok", True)]
    )
    generator = make(OpenAIGenerator, openai_settings, reward=terse)
    assert (await best_replies(generator, None, "the build is red", n=2))[0].text == "ok"


async def test_the_nearest_exemplars_are_earlier_turns_within_the_budget(
    make: Callable[..., Any], openai_settings: OpenAISettings, fake_openai: FakeOpenAI
) -> None:
    exemplars = [
        Exemplar("lunch at noon today?", "Can't wait.", "approved"),
        Exemplar("the deploy pipeline is red", "Shocking news.", "approved"),
        Exemplar("the deploy pipeline is slow", "Take your time.", "correction"),
    ]
    generator = make(OpenAIGenerator, openai_settings, exemplars=exemplars)
    await generator.generate("why is the deploy pipeline red", n=1)
    turns = [(m["role"], m["content"]) for m in fake_openai.chat_bodies()[0]["messages"]]
    assert turns[1:] == [
        ("user", "the deploy pipeline is slow"),
        ("assistant", "Take your time."),
        ("user", "the deploy pipeline is red"),
        ("assistant", "Shocking news."),
        ("user", "why is the deploy pipeline red"),
    ]
    tight = dataclasses.replace(openai_settings, few_shot_tokens=20)
    generator = make(OpenAIGenerator, tight, exemplars=exemplars)
    await generator.generate("why is the deploy pipeline red", n=1)
    assert len(fake_openai.chat_bodies()[1]["messages"]) == 4  # one exemplar fits


async def test_stream_yields_pieces_and_a_cut_stream_is_one_model_error(
    make: Callable[..., Any],
    openai_settings: OpenAISettings,
    fake_openai: FakeOpenAI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_openai.script = lambda body, index, seed: "Oh great, another meeting."
    generator = make(OpenAIGenerator, openai_settings)
    pieces = [piece async for piece in generator.stream("meeting at 4")]
    assert "".join(pieces) == "Oh great, another meeting."
    fake_openai.cut_stream_after = 2
    got: list[str] = []

    async def read() -> None:
        async for piece in generator.stream("meeting at 4"):
            got.append(piece)

    with caplog.at_level(logging.WARNING), pytest.raises(ModelError, match="broke off"):
        await read()
    assert "".join(got) == "Oh great,"
    assert len([r for r in caplog.records if r.name.startswith("tuning")]) == 1


async def test_a_slow_first_token_times_out_naming_the_variable(
    make: Callable[..., Any], openai_settings: OpenAISettings, fake_openai: FakeOpenAI
) -> None:
    fake_openai.first_token_delay = 1.0
    quick = dataclasses.replace(openai_settings, timeout_seconds=0.2, retry_attempts=1)
    with pytest.raises(ModelError, match=r"OPENAI_BASE_URL: .* did not answer within"):
        await make(OpenAIGenerator, quick).generate("hi", n=1)


@pytest.mark.parametrize(
    ("fault", "model", "message"),
    [
        (Fault(500), "sarcasm-7b", "answered 500"),
        (Fault(429, retry_after=0.01), "sarcasm-7b", "rate limiting"),
        (None, "gpt-nope", "OPENAI_MODEL: .* does not serve 'gpt-nope'"),
    ],
)
async def test_failures_are_one_line(
    make: Callable[..., Any],
    openai_settings: OpenAISettings,
    fake_openai: FakeOpenAI,
    fault: Fault | None,
    model: str,
    message: str,
) -> None:
    if fault is not None:
        fake_openai.faults.extend([fault] * 2)  # both attempts
    settings = dataclasses.replace(openai_settings, model=model)
    with pytest.raises(ModelError, match=message) as caught:
        await make(OpenAIGenerator, settings).generate("hi", n=1)
    assert "\n" not in str(caught.value)


async def test_a_dead_server_names_openai_base_url() -> None:
    settings = OpenAISettings(base_url="http://127.0.0.1:9/v1", model="m", retry_attempts=1)
    generator = OpenAIGenerator(version="v1", model="m", settings=settings)
    try:
        with pytest.raises(ModelError, match=r"^OPENAI_BASE_URL: cannot reach"):
            await generator.generate("hi", n=1)
    finally:
        await generator.aclose()


def labelled(top: tuple[tuple[str, float], ...]) -> Callable[..., Scripted]:
    def script(body: dict[str, Any], index: int, seed: int | None) -> Scripted:
        return Scripted("SARCASTIC", top=top)

    return script


async def test_classifier_probability_comes_from_top_logprobs(
    make: Callable[..., Any], openai_settings: OpenAISettings, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script = labelled((("SARCASTIC", -0.25), ("NOT", -1.5)))
    examples = [LabelledExample("oh great, more meetings", "sarcastic")]
    classifier = make(OpenAIClassifier, openai_settings, examples=examples)
    [prediction] = await classifier.classify(["great, more meetings today"])
    assert prediction.label == "sarcastic"
    expected = 0.7788 / (0.7788 + 0.2231)
    assert prediction.probability == pytest.approx(expected, abs=1e-3)
    body = fake_openai.chat_bodies()[0]
    assert (body["logprobs"], body["top_logprobs"], body["temperature"]) == (True, 5, 0.0)
    assert body["messages"][1:3] == [
        {"role": "user", "content": "oh great, more meetings"},
        {"role": "assistant", "content": "SARCASTIC"},
    ]


async def test_classifier_without_logprobs_uses_the_calibrated_constants(
    make: Callable[..., Any], openai_settings: OpenAISettings, fake_openai: FakeOpenAI
) -> None:
    fake_openai.serves_logprobs = False
    fake_openai.script = lambda body, index, seed: "NOT_SARCASTIC"
    metrics = {P_IF_SARCASTIC: 0.8, P_IF_NOT_SARCASTIC: 0.15}
    classifier = make(OpenAIClassifier, openai_settings, metrics=metrics)
    [prediction] = await classifier.classify(["the build passed"])
    assert (prediction.label, prediction.probability) == ("not_sarcastic", 0.15)


async def test_classifier_asks_without_logprobs_once_they_are_refused(
    make: Callable[..., Any], openai_settings: OpenAISettings, fake_openai: FakeOpenAI
) -> None:
    fake_openai.refuses_logprobs = True
    fake_openai.script = lambda body, index, seed: "SARCASTIC"
    classifier = make(OpenAIClassifier, openai_settings)
    [first] = await classifier.classify(["oh great"])
    [second] = await classifier.classify(["oh great"])
    assert first.label == second.label == "sarcastic"
    assert not classifier.uses_logprobs
    assert [bool(b.get("logprobs")) for b in fake_openai.chat_bodies()] == [True, False, False]
