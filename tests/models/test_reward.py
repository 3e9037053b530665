"""The reward model: pure features (table tests), a sensible prior, and learning a preference."""

from __future__ import annotations

import random

import pytest

from tuning.models.reward import FEATURES, PRIOR, RewardModel, candidate_features


def feature(prompt: str, reply: str, name: str, sarcasm: float = 0.5) -> float:
    return candidate_features(prompt, reply, sarcasm=sarcasm)[FEATURES.index(name)]


@pytest.mark.parametrize(
    ("prompt", "reply", "name", "expected"),
    [
        ("the build is broken", "Oh good, the build.", "relevance", 1.0),
        ("the build is broken", "lovely weather", "relevance", 0.0),
        ("the new roadmap and the budget", "the new roadmap, wow", "phrase_overlap", 0.5),
        ("x", "a b c d", "length", 0.1),
        ("x", " ".join(["w"] * 31), "too_long", 1.0),
        ("x", " ".join(["w"] * 30), "too_long", 0.0),
        ("x", "Really?", "question", 1.0),
        ("x", "Wow!!!!!", "exclaim", 1.0),
        ("x", "Wow!", "exclaim", pytest.approx(1 / 3)),
        ("x", "sure…", "ellipsis", 1.0),
        ("x", "nice :tada:", "emoji", 1.0),
        ("x", "nice 🎉", "emoji", 1.0),
        ("x", "plain text", "emoji", 0.0),
        ("x", "Oh wow, great.", "markers", 1.0),
        ("the build broke", "You said: the build broke", "echo", 1.0),
        ("the build broke", "builds break", "echo", 0.0),
        ("x", "y", "sarcasm", 0.5),
    ],
)
def test_candidate_features(prompt: str, reply: str, name: str, expected: float) -> None:
    assert feature(prompt, reply, name) == expected


def test_feature_vector_matches_names() -> None:
    assert len(candidate_features("a prompt", "a reply")) == len(FEATURES)
    assert feature("p", "r", "sarcasm", sarcasm=0.9) == 0.9


def test_prior_prefers_relevant_sarcastic_replies() -> None:
    model = RewardModel()
    assert model.weights == {name: PRIOR.get(name, 0.0) for name in FEATURES}
    prompt = "the deploy pipeline is down again"
    relevant, offtopic = model.score(prompt, ["Oh great, the deploy pipeline. Again.", "Nice hat."])
    assert relevant > offtopic
    sarcastic, sincere = model.score(prompt, ["ok", "ok."], sarcasm=[0.9, 0.1])
    assert sarcastic > sincere
    assert model.score(prompt, []) == []


def synthetic_preferences(count: int, rng: random.Random) -> list[tuple[str, str, str]]:
    """Raters who like short rhetorical questions more than on-topic exclamations."""
    topics = ["the build", "the meeting", "the printer", "the budget", "the deploy", "lunch"]
    triples = []
    for _ in range(count):
        topic = rng.choice(topics)
        prompt = f"{topic} is late again"
        good = "Who could possibly have guessed?"
        bad = f"Late, {topic}! Shocking!"
        triples.append((prompt, good, bad) if rng.random() < 0.9 else (prompt, bad, good))
    return triples


def test_fit_learns_a_synthetic_preference() -> None:
    rng = random.Random(0)
    train, held_out = synthetic_preferences(200, rng), synthetic_preferences(100, rng)
    clean = [t for t in held_out if "?" in t[1]]
    prior = RewardModel()
    fitted = prior.fit(train)
    assert fitted.n_pairs == 200
    assert fitted.weights["question"] > prior.weights["question"]
    assert fitted.weights["exclaim"] < prior.weights["exclaim"]
    assert prior.win_rate(clean) == 0.0  # the prior likes on-topic replies
    assert fitted.win_rate(clean) == 1.0


def test_fit_uses_classifier_probabilities_when_given() -> None:
    triples = [(f"prompt {i}", f"sarcastic {i}", f"sincere {i}") for i in range(50)]
    fitted = RewardModel().fit(
        triples, sarcasm=lambda texts: [0.9 if t.startswith("sarcastic") else 0.1 for t in texts]
    )
    assert fitted.weights["sarcasm"] > PRIOR["sarcasm"]


def test_few_pairs_nudge_rather_than_overturn_the_prior() -> None:
    triple = ("the build broke", "ok", "Oh great, the build broke. Again.")
    fitted = RewardModel().fit([triple])
    assert fitted.weights["relevance"] > 0


def test_fit_without_pairs_keeps_weights_and_round_trips() -> None:
    model = RewardModel({"question": 1.5}, n_pairs=3)
    assert model.fit([]).weights == model.weights
    again = RewardModel.from_dict(model.to_dict())
    assert again.weights == model.weights
    assert again.n_pairs == 3
    with pytest.raises(ValueError, match="weights"):
        RewardModel.from_dict({"weights": [1, 2]})
