"""Few-shot selection: the nearest exemplars, within the token budget, corrections on ties."""

from __future__ import annotations

import pytest

from tuning.models.few_shot import Exemplar, LabelledExample, estimate_tokens, select

POOL = [
    Exemplar("the build is red again", "Shocking.", "approved"),
    Exemplar("the build is red", "Who could have guessed.", "correction"),
    Exemplar("standup moved to 9am", "Lovely.", "approved"),
]


@pytest.mark.parametrize(
    ("message", "budget", "replies"),
    [
        # The nearest last (right before the message); the correction wins the tie.
        ("is the build red", 1000, ["Shocking.", "Who could have guessed."]),
        ("is the build red", POOL[1].size, ["Who could have guessed."]),
        ("is the build red", 0, []),
        ("lunch?", 1000, []),  # nothing in common: no exemplar
        ("standup at 9am", 1000, ["Lovely."]),
    ],
)
def test_select(message: str, budget: int, replies: list[str]) -> None:
    assert [e.reply for e in select(POOL, message, budget_tokens=budget)] == replies


def test_budget_is_never_exceeded() -> None:
    pool = [LabelledExample(f"meeting number {i} " * 5, "sarcastic") for i in range(50)]
    chosen = select(pool, "meeting", budget_tokens=100)
    assert chosen
    assert sum(e.size for e in chosen) <= 100


def test_estimate_tokens() -> None:
    assert [estimate_tokens(t) for t in ("", "abcd", "abcde")] == [1, 1, 2]
