"""Simulated raters with a hidden taste: the reward model learns it and ranks new prompts by it.

Raters like replies that are short *and* name what the prompt complains about (not the other
people or things it mentions), or, second taste, that open with "Splendid", "Lovely" or
"Classic". They give 300 unpaired 👍/👎 (wrong one time in ten) and 50 preference pairs on prompts
about some topics; the model is scored on near-miss pairs (one difference each) of replies to
prompts about topics it never saw. On these, this model scores 0.97 and 1.00; the format-1 model
(hand-made features, fitted on the 50 pairs: it cannot use ratings) scored 0.66 and 0.79, and
the untrained prior 0.18 and 0.00.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from tuning.models.reward import Preference, Rating, RewardModel

TRAIN_TOPICS = str.split(
    "printer wifi deploy budget standup laptop invoice elevator roadmap sprint"
)
TEST_TOPICS = str.split(
    "scanner router migration payroll retro monitor receipt parking backlog release"
)
COMPLAINTS = [  # every prompt names other things too; only {t} is what it is about
    "my {o} says the {t} is broken again",
    "why is the {t} always late when my {o} is watching",
    "great, the {o} found another problem with the {t}",
    "can someone look at the {t}, it died in front of the {o}",
    "apparently the {t} needs a restart every hour now, says my {o}",
]
OTHERS = str.split("manager team client boss colleague")
OPENERS = ["Oh great", "Wow", "Sure", "Ah yes", "Fantastic", "Lovely", "Splendid", "Classic"]
SUBJECTS = ["the {t}", "that {t}", "the {o}", "your {o}", "this", "it"]
TAILS = [
    "",
    "again",
    "what a surprise",
    "truly the highlight of my week",
    "I am thrilled beyond words, as always, honestly",
    "exactly what this week was missing, as everyone here predicted",
    "who could have seen that coming",
    "how could this possibly go wrong",
]
Taste = Callable[[str, str], bool]


def short_and_on_topic(topic: str, reply: str) -> bool:
    return len(reply.split()) <= 8 and topic in reply


def says_it_splendidly(topic: str, reply: str) -> bool:
    return reply.startswith(("Splendid", "Lovely", "Classic"))


def reply_for(topic: str, rng: random.Random) -> str:
    subject = rng.choice(SUBJECTS).format(t=topic, o=rng.choice(OTHERS))
    tail = rng.choice(TAILS)
    end = rng.choice(["?", ".", "!"]) if tail else "."
    return f"{rng.choice(OPENERS)}, {subject}{' ' + tail if tail else ''}{end}"


def near_miss(reply: str, topic: str, other: str, rng: random.Random) -> str:
    """Return ``reply`` with its subject swapped for the prompt's ``other`` noun, or its tail
    lengthened, or its opener changed."""
    choice = rng.randrange(3)
    if choice == 0 and topic in reply:
        return reply.replace(f"the {topic}", f"the {other}").replace(
            f"that {topic}", f"your {other}"
        )
    if choice == 1:
        return f"{reply[:-1]}, {TAILS[4]}{reply[-1]}"
    opener = reply.split(",")[0]
    return reply.replace(opener, rng.choice(OPENERS), 1)


def prompt_for(topic: str, rng: random.Random, other: str | None = None) -> str:
    return rng.choice(COMPLAINTS).format(t=topic, o=other or rng.choice(OTHERS))


def rated(topics: list[str], taste: Taste, count: int, rng: random.Random) -> list[Rating]:
    out = []
    for _ in range(count):
        topic = rng.choice(topics)
        reply = reply_for(topic, rng)
        liked = taste(topic, reply) != (rng.random() < 0.1)  # raters slip one time in ten
        out.append((prompt_for(topic, rng), reply, liked))
    return out


def paired(
    topics: list[str], taste: Taste, count: int, rng: random.Random, *, hard: bool = False
) -> list[Preference]:
    """Return pairs that the taste orders; ``hard`` ones differ in one respect only."""
    out: list[Preference] = []
    while len(out) < count:
        topic, other = rng.choice(topics), rng.choice(OTHERS)
        a = reply_for(topic, rng)
        b = near_miss(a, topic, other, rng) if hard else reply_for(topic, rng)
        if taste(topic, a) != taste(topic, b):
            good, bad = (a, b) if taste(topic, a) else (b, a)
            out.append((prompt_for(topic, rng, other), good, bad))
    return out


@pytest.mark.parametrize(
    ("taste", "threshold"), [(short_and_on_topic, 0.85), (says_it_splendidly, 0.9)]
)
def test_learns_a_hidden_taste_from_ratings_and_pairs(taste: Taste, threshold: float) -> None:
    rng = random.Random(0)
    ratings = rated(TRAIN_TOPICS, taste, 300, rng)
    pairs = paired(TRAIN_TOPICS, taste, 50, rng)
    held_out = paired(TEST_TOPICS, taste, 300, rng, hard=True)
    fitted = RewardModel().fit(pairs, ratings=ratings)
    assert (fitted.n_pairs, fitted.n_ratings) == (50, 300)
    accuracy = fitted.win_rate(held_out)
    assert accuracy >= threshold, accuracy
    assert RewardModel().win_rate(held_out) < threshold  # the prior alone does not know it


def test_ratings_alone_teach_the_taste() -> None:
    rng = random.Random(1)
    ratings = rated(TRAIN_TOPICS, short_and_on_topic, 300, rng)
    held_out = paired(TEST_TOPICS, short_and_on_topic, 200, rng, hard=True)
    assert RewardModel().fit([], ratings=ratings).win_rate(held_out) >= 0.75


def test_fit_is_deterministic_and_round_trips() -> None:
    rng = random.Random(2)
    ratings = rated(TRAIN_TOPICS, says_it_splendidly, 80, rng)
    pairs = paired(TRAIN_TOPICS, says_it_splendidly, 10, rng)
    first, second = (
        RewardModel().fit(pairs, ratings=ratings),
        RewardModel().fit(pairs, ratings=ratings),
    )
    assert first.to_dict() == second.to_dict()
    again = RewardModel.from_dict(first.to_dict())
    prompt, replies = "the router is broken again", ["Oh great, the router?", "Wow, it."]
    assert again.score(prompt, replies) == first.score(prompt, replies)
    assert again.n_ratings == 80


def test_format_1_data_still_loads_and_scores_as_before() -> None:
    old = {"weights": {"relevance": 2.0, "question": 1.0}, "n_pairs": 4}
    model = RewardModel.from_dict(old)
    assert model.n_pairs == 4
    a, b = model.score("the build broke", ["The build? Really?", "ok"])
    assert a == pytest.approx(2.0 + 1.0)
    assert b == 0.0
    with pytest.raises(ValueError, match="format"):
        RewardModel.from_dict({**model.to_dict(), "format": 9})
