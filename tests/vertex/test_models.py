"""The tuned classifier and generator through the real google-genai client and the fake server."""

from __future__ import annotations

import dataclasses
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
    fake_vertex.respond(ENDPOINT, label_with_logprobs)
    classifier = VertexClassifier(
        version(), Settings(vertex=vertex_settings), client=make_client(vertex_settings)
    )
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

    fake_vertex.respond(ENDPOINT, responder)
    vertex = dataclasses.replace(vertex_settings, temperature=0.7)
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
