"""Table tests for the pure text helpers."""

from __future__ import annotations

import pytest

from tuning.text import content_words, key_phrases, normalize, relevance


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Oh GREAT,   another\tmeeting!! ", "oh great, another meeting!!"),
        ("ＦＵＬＬ width", "full width"),
        ("Straße", "strasse"),  # case-folded: "ß".lower() would stay "ß"
        ("", ""),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Can we have a quick meeting about the new deploy pipeline?",
            ["quick meeting", "new deploy pipeline"],
        ),
        ("the printer on floor 2 is jammed", ["printer", "floor 2", "jammed"]),
        ("hi", []),
        ("Oh great, oh wow, yeah.", []),
    ],
)
def test_key_phrases(text: str, expected: list[str]) -> None:
    assert key_phrases(text) == expected


def test_key_phrases_keeps_the_longest_in_order() -> None:
    phrases = key_phrases(
        "budget, the quarterly planning spreadsheet, lunch, the coffee machine", limit=2
    )
    assert phrases == ["quarterly planning spreadsheet", "coffee machine"]


@pytest.mark.parametrize(
    ("prompt", "reply", "expected"),
    [
        ("the build is broken", "Oh good, the build. Again.", 1.0),
        ("the build and the deploy", "nice deploy", 0.5),
        ("the build", "nothing to do with it", 0.0),
        ("hi", "hello there", 0.0),
    ],
)
def test_relevance(prompt: str, reply: str, expected: float) -> None:
    assert relevance(prompt, reply) == pytest.approx(expected)


def test_content_words_drop_stopwords() -> None:
    assert content_words("I just love the new office chairs") == {"new", "office", "chairs"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my laptop crashed during the client demo", ["your laptop", "the client demo"]),
        ("is this build green?", ["this build green"]),
        ("deploys on fridays", ["deploys", "fridays"]),
    ],
)
def test_key_phrases_with_determiners_face_the_listener(text: str, expected: list[str]) -> None:
    assert key_phrases(text, determiners=True) == expected


@pytest.mark.parametrize("module", ["tuning.text", "tuning.models.reward"])
def test_docstring_examples_hold(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0
    assert result.failed == 0
