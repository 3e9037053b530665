"""The local generator: n distinct, prompt-related, deterministic candidates; saves as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuning.datasets.basedata import ReplyPair
from tuning.errors import DatasetError, ModelError
from tuning.models.base import Generator
from tuning.models.local_classifier import LocalClassifier
from tuning.models.local_generator import (
    PAIRS_FILE,
    LocalGenerator,
    adapt_reply,
    fill_template,
)
from tuning.models.reward import RewardModel
from tuning.text import content_words, normalize

PROMPTS = [
    "the build is broken again and the release is tomorrow",
    "can we have a quick meeting about the new roadmap?",
    "the coffee machine on floor 3 is out of order",
    "hi",
]


@pytest.mark.parametrize("prompt", PROMPTS)
@pytest.mark.parametrize("n", [1, 4, 16])
async def test_returns_n_distinct_ranked_candidates(
    seed_generator: LocalGenerator, prompt: str, n: int
) -> None:
    assert isinstance(seed_generator, Generator)
    candidates = await seed_generator.generate(prompt, n=n)
    assert len(candidates) == n
    assert len({normalize(c.text) for c in candidates}) == n
    assert [c.score for c in candidates] == sorted((c.score for c in candidates), reverse=True)
    assert all(c.text.strip() and "{" not in c.text for c in candidates)


@pytest.mark.parametrize("prompt", PROMPTS[:3])
def test_candidates_relate_to_the_prompt(seed_generator: LocalGenerator, prompt: str) -> None:
    wanted = content_words(prompt)
    candidates = seed_generator.candidates(prompt, n=4)
    related = [c for c in candidates if content_words(c.text) & wanted]
    assert len(related) >= 3, candidates


def test_is_deterministic_for_a_prompt_and_seed(seed_generator: LocalGenerator) -> None:
    first = seed_generator.candidates(PROMPTS[0], n=6)
    assert seed_generator.candidates(PROMPTS[0], n=6) == first
    other_seed = LocalGenerator(seed_generator.pairs, version="x", seed=7)
    assert other_seed.pool(PROMPTS[0], size=30) != seed_generator.pool(PROMPTS[0], size=30)


def test_added_pairs_are_retrieved_for_similar_prompts(seed_generator: LocalGenerator) -> None:
    pair = ReplyPair(
        "the zeppelin hangar flooded", "Splendid, the zeppelin finally gets its swimming pool."
    )
    tuned = seed_generator.with_pairs([pair], version="gen-2")
    assert tuned.version == "gen-2"
    assert len(tuned.pairs) == len(seed_generator.pairs) + 1
    assert pair.reply in tuned.pool("our zeppelin hangar flooded overnight", size=12)
    assert pair.reply not in seed_generator.pool("our zeppelin hangar flooded overnight", size=12)


@pytest.mark.parametrize(
    ("pair", "prompt", "expected"),
    [
        (  # the neighbour's topic is swapped for the prompt's
            ReplyPair("the printer is jammed", "Oh good, the printer wanted attention again."),
            "the scanner is jammed",
            "Oh good, the scanner wanted attention again.",
        ),
        (  # a phrase the prompt shares with the neighbour stays
            ReplyPair("my code works on my machine", "Great, we'll just ship your machine."),
            "my code works on my machine too",
            "Great, we'll just ship your machine.",
        ),
        (  # nothing to swap
            ReplyPair("the meeting ran long", "What a surprise."),
            "the standup ran long",
            "What a surprise.",
        ),
    ],
)
def test_adapt_reply(pair: ReplyPair, prompt: str, expected: str) -> None:
    assert adapt_reply(pair, prompt) == expected


@pytest.mark.parametrize(
    ("template", "phrase", "expected"),
    [
        ("Oh wonderful, {phrase}.", "the build", "Oh wonderful, the build."),
        ("{Phrase}? Groundbreaking.", "new roadmap", "New roadmap? Groundbreaking."),
    ],
)
def test_fill_template(template: str, phrase: str, expected: str) -> None:
    assert fill_template(template, phrase) == expected


def test_needs_pairs() -> None:
    with pytest.raises(DatasetError):
        LocalGenerator([], version="x")


def test_save_and_load_round_trip(seed_generator: LocalGenerator, tmp_path: Path) -> None:
    reward = RewardModel({"question": 3.0})
    generator = seed_generator.with_reward(reward, version="gen-r")
    generator.save(tmp_path, fingerprint="f", metrics={"n_pairs": 1.0})
    loaded = LocalGenerator.load(tmp_path)
    assert loaded.version == "gen-r"
    assert loaded.reward.weights == reward.weights
    assert loaded.candidates(PROMPTS[1], n=5) == generator.candidates(PROMPTS[1], n=5)


@pytest.mark.parametrize(
    "content",
    ["{broken", json.dumps({"pairs": "nope"}), json.dumps({"pairs": [], "templates": []})],
)
def test_corrupt_pair_file_raises_model_error(
    seed_generator: LocalGenerator, tmp_path: Path, content: str
) -> None:
    seed_generator.save(tmp_path, fingerprint="f", metrics={})
    (tmp_path / PAIRS_FILE).write_text(content, encoding="utf-8")
    with pytest.raises(ModelError, match=PAIRS_FILE):
        LocalGenerator.load(tmp_path)


def test_classifier_directory_is_not_a_generator(
    tmp_path: Path, seed_classifier: LocalClassifier
) -> None:
    seed_classifier.save(tmp_path, fingerprint="f", metrics={})
    with pytest.raises(ModelError, match="not a format-1 local-generator"):
        LocalGenerator.load(tmp_path)
