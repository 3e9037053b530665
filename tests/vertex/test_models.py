"""The tuned classifier and generator through the real google-genai client and the fake server."""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Any

import pytest
from google.genai import types
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fakes.vertex_server import FakeVertex, text_candidate
from tests.vertex.conftest import PROJECT, REGION
from tuning.config import Settings, VertexSettings
from tuning.errors import ModelError
from tuning.models.base import (
    Classifier,
    Generator,
)
from tuning.models.label_calibration import P_IF_NOT_SARCASTIC, P_IF_SARCASTIC
from tuning.models.vertex import (
    VertexClassifier,
    VertexGenerator,
    endpoint_client,
    parse_label,
    sarcastic_probability,
)
from tuning.prompts import CLASSIFIER_SYSTEM_PROMPT, GENERATOR_SYSTEM_PROMPT
from tuning.records import ModelVersion

ENDPOINT = f"projects/{PROJECT}/locations/{REGION}/endpoints/7001"
LOGPROBS_MODEL = "gemini-2.5-flash"  # a model that gives logprobs and several candidates


def version(task: str = "classifier") -> ModelVersion:
    return ModelVersion(task=task, version=f"{task}-v3", backend="vertex", artifact=ENDPOINT)  # type: ignore[arg-type]


def user_text(body: dict[str, Any]) -> str:
    text: str = body["contents"][0]["parts"][0]["text"]
    return text


def label_with_logprobs(body: dict[str, Any]) -> list[dict[str, Any]]:
    if "great" in user_text(body):
        return [text_candidate("SARCASTIC", top=[[("SAR", math.log(0.8)), ("NOT", math.log(0.2))]])]
    return [text_candidate("NOT_SARCASTIC", top=[[("NOT", math.log(0.7)), ("S", math.log(0.1))]])]


async def test_classifier_parses_labels_and_takes_probabilities_from_logprobs(
    make_client: Any, fake_vertex: FakeVertex, vertex_settings: VertexSettings
) -> None:
    # Gemini 2.5 gives logprobs (Gemini 3 and later refuse them: see the tests below).
    fake_vertex.respond(ENDPOINT, label_with_logprobs, model=LOGPROBS_MODEL)
    vertex = dataclasses.replace(vertex_settings, logprobs=True)
    classifier = VertexClassifier(version(), Settings(vertex=vertex), client=make_client(vertex))
    assert isinstance(classifier, Classifier)

    texts = ["Oh great, another meeting.", "The build is green.", "great, just great"]
    predictions = await classifier.classify(texts)

    assert [p.text for p in predictions] == texts
    assert [p.label for p in predictions] == ["sarcastic", "not_sarcastic", "sarcastic"]
    assert predictions[0].probability == pytest.approx(0.8)
    assert predictions[1].probability == pytest.approx(0.1 / 0.8)
    body = fake_vertex.bodies("POST", f"{ENDPOINT}:generateContent")[0]
    assert body["systemInstruction"]["parts"][0]["text"] == CLASSIFIER_SYSTEM_PROMPT
    config = body["generationConfig"]
    assert config["temperature"] == 0
    assert config["maxOutputTokens"] <= 16
    assert config["responseLogprobs"] is True
    assert config["logprobs"] == 5


async def test_without_logprobs_each_label_reports_the_configured_constant(
    make_client: Any, fake_vertex: FakeVertex, vertex_settings: VertexSettings
) -> None:
    vertex = dataclasses.replace(vertex_settings, logprobs=False, label_confidence=0.85)
    fake_vertex.respond(
        ENDPOINT,
        lambda body: [text_candidate("SARCASTIC" if "!" in user_text(body) else "NOT_SARCASTIC")],
    )
    classifier = VertexClassifier(version(), Settings(vertex=vertex), client=make_client(vertex))

    yes, no = await classifier.classify(["Wow!", "ok"])

    assert [yes.label, no.label] == ["sarcastic", "not_sarcastic"]
    assert [yes.probability, no.probability] == pytest.approx([0.85, 0.15])
    config = fake_vertex.bodies("POST", ":generateContent")[0]["generationConfig"]
    assert "responseLogprobs" not in config


async def test_an_off_format_answer_is_an_uncertain_not_sarcastic(
    make_client: Any, fake_vertex: FakeVertex, vertex_settings: VertexSettings
) -> None:
    fake_vertex.respond(ENDPOINT, lambda body: [text_candidate("I think maybe?")])
    classifier = VertexClassifier(
        version(), Settings(vertex=vertex_settings), client=make_client(vertex_settings)
    )
    (prediction,) = await classifier.classify(["hmm"])
    assert (prediction.label, prediction.probability) == ("not_sarcastic", 0.5)


async def test_a_missing_endpoint_is_a_model_error(
    make_client: Any, vertex_settings: VertexSettings
) -> None:
    classifier = VertexClassifier(
        version(), Settings(vertex=vertex_settings), client=make_client(vertex_settings)
    )
    with pytest.raises(ModelError, match="404"):
        await classifier.classify(["anything"])


@pytest.mark.parametrize("n", [1, 3, 10])
async def test_generator_returns_n_distinct_candidates_best_first(
    make_client: Any, fake_vertex: FakeVertex, vertex_settings: VertexSettings, n: int
) -> None:
    replies = [text_candidate(f"Reply {i}.", avg_logprob=-0.1 * (i % 5 + 1)) for i in range(16)]
    served = iter(range(100))

    def responder(body: dict[str, Any]) -> list[dict[str, Any]]:
        start = next(served) * 8
        return replies[start : start + body["generationConfig"]["candidateCount"]]

    fake_vertex.respond(ENDPOINT, responder, model=LOGPROBS_MODEL)
    vertex = dataclasses.replace(vertex_settings, temperature=0.7, multiple_candidates=True)
    generator = VertexGenerator(
        version("generator"), Settings(vertex=vertex), client=make_client(vertex)
    )
    assert isinstance(generator, Generator)

    candidates = await generator.generate("The deploy failed again.", n=n)

    assert len(candidates) == n
    assert len({c.text for c in candidates}) == n
    scores = [c.score for c in candidates]
    assert scores == sorted(scores, reverse=True)
    bodies = fake_vertex.bodies("POST", ":generateContent")
    assert sorted(b["generationConfig"]["candidateCount"] for b in bodies) == sorted(
        [8] * (n // 8) + ([n % 8] if n % 8 else [])
    )
    for body in bodies:
        assert body["systemInstruction"]["parts"][0]["text"] == GENERATOR_SYSTEM_PROMPT
        assert body["generationConfig"]["temperature"] == pytest.approx(0.7)
        assert user_text(body) == "The deploy failed again."


async def test_a_generator_with_no_usable_reply_raises(
    make_client: Any, fake_vertex: FakeVertex, vertex_settings: VertexSettings
) -> None:
    fake_vertex.respond(ENDPOINT, lambda body: [{"finishReason": "SAFETY"}])
    generator = VertexGenerator(
        version("generator"), Settings(vertex=vertex_settings), client=make_client(vertex_settings)
    )
    with pytest.raises(ModelError, match="no usable reply"):
        await generator.generate("hi", n=2)


async def test_from_settings_talks_to_the_tuning_region_with_the_given_credentials(
    fake_vertex: FakeVertex,
) -> None:
    from google.oauth2.credentials import Credentials

    settings = Settings.from_env(
        {
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "GOOGLE_CLOUD_LOCATION": "global",
            "VERTEX_TUNING_LOCATION": REGION,
        }
    )
    fake_vertex.respond(ENDPOINT, lambda body: [text_candidate("SARCASTIC")])
    client = endpoint_client(
        settings, base_url=fake_vertex.url, credentials=Credentials(token="test")
    )
    classifier = VertexClassifier(version(), settings, client=client)
    try:
        (prediction,) = await classifier.classify(["sure, love that"])
    finally:
        await classifier.aclose()
    assert prediction.label == "sarcastic"
    assert client._api_client.location == REGION


@pytest.mark.parametrize(
    ("answer", "label"),
    [
        ("SARCASTIC", "sarcastic"),
        (" sarcastic.\n", "sarcastic"),
        ("NOT_SARCASTIC", "not_sarcastic"),
        ("Not sarcastic", "not_sarcastic"),
        ("`NOT_SARCASTIC`", "not_sarcastic"),
        ("", None),
        ("maybe", None),
        ("NOT SURE", None),
    ],
)
def test_parse_label(answer: str, label: str | None) -> None:
    assert parse_label(answer) == label


@settings(max_examples=60, deadline=None)
@given(st.text())
def test_parse_label_never_raises(answer: str) -> None:
    assert parse_label(answer) in ("sarcastic", "not_sarcastic", None)


def candidate(top: list[list[tuple[str, float]]] | None, chosen: list[float] | None = None) -> Any:
    result = None
    if top is not None or chosen is not None:
        result = types.LogprobsResult(
            top_candidates=[
                types.LogprobsResultTopCandidates(
                    candidates=[
                        types.LogprobsResultCandidate(token=t, log_probability=lp) for t, lp in s
                    ]
                )
                for s in top or []
            ],
            chosen_candidates=[
                types.LogprobsResultCandidate(token="x", log_probability=lp) for lp in chosen or []
            ],
        )
    return types.Candidate(logprobs_result=result)


@pytest.mark.parametrize(
    ("cand", "label", "expected"),
    [
        (candidate(None), "sarcastic", None),
        (candidate([[("SAR", math.log(0.6)), ("NOT", math.log(0.2))]]), "sarcastic", 0.75),
        # A leading whitespace step is skipped; the label step decides.
        (candidate([[(" ", -0.01)], [("NOT", math.log(0.9)), ("SARC", math.log(0.1))]]), "x", 0.1),
        (candidate([], chosen=[math.log(0.5), math.log(0.8)]), "sarcastic", 0.4),
        (candidate([], chosen=[math.log(0.5), math.log(0.8)]), "not_sarcastic", 0.6),
    ],
)
def test_sarcastic_probability(cand: Any, label: Any, expected: float | None) -> None:
    assert sarcastic_probability(cand, label) == (
        None if expected is None else pytest.approx(expected)
    )


def test_the_model_loader_builds_vertex_models_for_the_tuning_region() -> None:
    from tuning.models.loader import load_classifier, load_generator

    settings = Settings.from_env(
        {
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "GOOGLE_CLOUD_LOCATION": "global",
            "VERTEX_TUNING_LOCATION": "europe-west4",
        }
    )
    classifier = load_classifier(version(), settings)
    generator = load_generator(version("generator"), settings)
    assert isinstance(classifier, VertexClassifier)
    assert isinstance(generator, VertexGenerator)
    assert (classifier.version, generator.version) == ("classifier-v3", "generator-v3")
    assert classifier._client._api_client.location == "europe-west4"


def generate_bodies(fake: FakeVertex) -> list[dict[str, Any]]:
    return fake.bodies("POST", ":generateContent")


def by_seed(body: dict[str, Any]) -> list[dict[str, Any]]:
    seed = body["generationConfig"].get("seed")
    return [text_candidate(f"Reply for seed {seed}.", avg_logprob=-0.5)]


async def test_on_gemini_3_the_classifier_asks_no_logprobs_and_reports_calibrated_labels(
    make_client: Any, fake_vertex: FakeVertex, vertex_settings: VertexSettings
) -> None:
    fake_vertex.respond(
        ENDPOINT,
        lambda body: [text_candidate("SARCASTIC" if "!" in user_text(body) else "NOT_SARCASTIC")],
    )
    calibrated = dataclasses.replace(
        version(), metrics={P_IF_SARCASTIC: 0.83, P_IF_NOT_SARCASTIC: 0.07}
    )
    classifier = VertexClassifier(
        calibrated, Settings(vertex=vertex_settings), client=make_client(vertex_settings)
    )
    yes, no = await classifier.classify(["Wow!", "ok"])
    assert [(yes.label, yes.probability), (no.label, no.probability)] == [
        ("sarcastic", 0.83),
        ("not_sarcastic", 0.07),
    ]
    for body in fake_vertex.bodies("POST", ":generateContent"):
        assert "responseLogprobs" not in body["generationConfig"]
        assert "logprobs" not in body["generationConfig"]


async def test_a_version_that_refuses_logprobs_is_asked_once_more_without_and_never_again(
    make_client: Any, fake_vertex: FakeVertex, vertex_settings: VertexSettings
) -> None:
    fake_vertex.respond(ENDPOINT, lambda body: [text_candidate("SARCASTIC")])
    vertex = dataclasses.replace(vertex_settings, logprobs=True)
    classifier = VertexClassifier(version(), Settings(vertex=vertex), client=make_client(vertex))

    first = await classifier.classify(["a", "b", "c"])
    asked = fake_vertex.bodies("POST", ":generateContent")
    assert [p.label for p in first] == ["sarcastic"] * 3
    assert all(0.0 <= p.probability <= 1.0 for p in first)
    assert len(asked) == 6  # each text: refused with logprobs, answered without
    assert sum("responseLogprobs" in b["generationConfig"] for b in asked) == 3
    assert classifier.uses_logprobs is False

    await classifier.classify(["d"])
    (last,) = fake_vertex.bodies("POST", ":generateContent")[6:]
    assert "responseLogprobs" not in last["generationConfig"]


async def test_a_400_that_is_not_about_logprobs_is_not_retried(
    make_client: Any, fake_vertex: FakeVertex, vertex_settings: VertexSettings
) -> None:
    fake_vertex.respond(ENDPOINT, lambda body: [text_candidate("SARCASTIC")], model=LOGPROBS_MODEL)
    vertex = dataclasses.replace(vertex_settings, logprobs=True)
    classifier = VertexClassifier(version(), Settings(vertex=vertex), client=make_client(vertex))
    fake_vertex.inject(400, match=":generateContent")
    with pytest.raises(ModelError, match="400"):
        await classifier.classify(["a"])
    assert len(fake_vertex.bodies("POST", ":generateContent")) == 1
    assert classifier.uses_logprobs is True


async def test_on_gemini_3_candidates_are_parallel_single_calls_with_distinct_seeds(
    make_client: Any, fake_vertex: FakeVertex, vertex_settings: VertexSettings
) -> None:
    fake_vertex.respond(ENDPOINT, by_seed)
    generator = VertexGenerator(
        version("generator"), Settings(vertex=vertex_settings), client=make_client(vertex_settings)
    )
    candidates = await generator.generate("The deploy failed again.", n=5)

    bodies = fake_vertex.bodies("POST", ":generateContent")
    assert len(bodies) == 5
    assert all(b["generationConfig"]["candidateCount"] == 1 for b in bodies)
    assert len({b["generationConfig"]["seed"] for b in bodies}) == 5
    assert len({c.text for c in candidates}) == 5


async def test_a_refused_candidate_count_falls_back_to_single_calls_and_is_remembered(
    make_client: Any, fake_vertex: FakeVertex, vertex_settings: VertexSettings
) -> None:
    fake_vertex.respond(ENDPOINT, by_seed)
    vertex = dataclasses.replace(vertex_settings, multiple_candidates=True)
    generator = VertexGenerator(
        version("generator"), Settings(vertex=vertex), client=make_client(vertex)
    )
    assert len(await generator.generate("hi", n=3)) == 3
    counts = [
        b["generationConfig"]["candidateCount"]
        for b in fake_vertex.bodies("POST", ":generateContent")
    ]
    assert counts == [3, 1, 1, 1]

    assert len(await generator.generate("again", n=2)) == 2
    counts = [
        b["generationConfig"]["candidateCount"]
        for b in fake_vertex.bodies("POST", ":generateContent")
    ]
    assert counts[4:] == [1, 1]


async def test_no_model_output_is_logged_at_info_or_above(
    make_client: Any,
    fake_vertex: FakeVertex,
    vertex_settings: VertexSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "I think Dana from payroll is maybe"
    fake_vertex.respond(ENDPOINT, lambda body: [text_candidate(secret)])
    classifier = VertexClassifier(
        version(), Settings(vertex=vertex_settings), client=make_client(vertex_settings)
    )
    with caplog.at_level(logging.DEBUG, logger="tuning"):
        (prediction,) = await classifier.classify(["hmm"])
    assert prediction.probability == 0.5
    assert any(r.levelno >= logging.WARNING for r in caplog.records)
    assert not any("Dana" in r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
