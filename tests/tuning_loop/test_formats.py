"""Vertex JSONL formats: valid lines pass, anything else yields reasons and never crashes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuning.datasets.formats import (
    preference_line,
    preference_triple,
    read_jsonl,
    sft_line,
    sft_pair,
    validate_preference,
    validate_sft,
)
from tuning.errors import DatasetError
from tuning.redaction import find_pii

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
# Turn-shaped objects, so the fuzz reaches the deeper checks too.
turns = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["user", "model", "system", ""]),
        "parts": st.lists(
            st.fixed_dictionaries({"text": st.text(max_size=20)}) | json_values, max_size=2
        ),
    }
)
shaped = st.fixed_dictionaries(
    {
        "contents": st.lists(turns, max_size=3),
        "completions": st.lists(
            st.fixed_dictionaries({"score": st.sampled_from([0, 1, 2, True]), "completion": turns}),
            max_size=3,
        ),
    }
)


@settings(max_examples=100, deadline=None)
@given(st.one_of(json_values, shaped))
def test_validators_return_reasons_for_any_json(value: object) -> None:
    for validate in (validate_sft, validate_preference):
        problems = validate(value)
        assert isinstance(problems, list)
        assert all(isinstance(p, str) and p for p in problems)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=30), st.text(max_size=30), st.text(max_size=30))
def test_built_lines_are_valid_exactly_when_texts_are_clean(a: str, b: str, c: str) -> None:
    def clean(text: str) -> bool:
        return bool(text.strip()) and not find_pii(text)

    assert (validate_sft(sft_line("system", a, b)) == []) == (clean(a) and clean(b))
    expected = clean(a) and clean(b) and clean(c) and b != c
    assert (validate_preference(preference_line(a, b, c)) == []) == expected


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=40), max_size=5))
def test_read_jsonl_either_parses_or_names_the_line(
    tmp_path_factory: pytest.TempPathFactory, rows: list[str]
) -> None:
    path = tmp_path_factory.mktemp("jsonl") / "data.jsonl"
    path.write_text("\n".join(rows), encoding="utf-8")
    error, lines = "", []
    try:
        lines = read_jsonl(path, method="sft")
    except DatasetError as exc:
        error = str(exc)
    assert error.startswith(str(path)) if error else all(validate_sft(x) == [] for x in lines)


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    rows = [sft_line("sys", "is it done?", "Naturally."), sft_line("sys", "ok", "Sure.")]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert [sft_pair(line) for line in read_jsonl(path, method="sft")] == [
        ("is it done?", "Naturally."),
        ("ok", "Sure."),
    ]
    pref = tmp_path / "p.jsonl"
    pref.write_text(json.dumps(preference_line("q", "good", "bad")) + "\n", encoding="utf-8")
    assert [preference_triple(x) for x in read_jsonl(pref, method="preference")] == [
        ("q", "good", "bad")
    ]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (
            {
                "contents": [
                    {"role": "model", "parts": [{"text": "x"}]},
                    {"role": "user", "parts": [{"text": "y"}]},
                ]
            },
            "contents[0].role: must be 'user'",
        ),
        (
            {
                "contents": [
                    {"role": "user", "parts": []},
                    {"role": "model", "parts": [{"text": "y"}]},
                ]
            },
            "contents[0].parts: must be a non-empty list",
        ),
        (
            {
                "contents": [
                    {"role": "user", "parts": [{"text": "mail a@b.io"}]},
                    {"role": "model", "parts": [{"text": "y"}]},
                ]
            },
            "contents[0].parts[0].text: personal data left (email)",
        ),
        ({**sft_line("s", "a", "b"), "extra": 1}, "line: unexpected field 'extra'"),
    ],
)
def test_sft_problems_are_named(line: dict, problem: str) -> None:
    assert problem in validate_sft(line)


def test_a_preference_line_may_carry_a_system_instruction() -> None:
    line = preference_line("q", "good", "bad", system="Be dry.")
    assert line["systemInstruction"] == {"parts": [{"text": "Be dry."}]}
    assert validate_preference(line) == []
    assert "systemInstruction" not in preference_line("q", "good", "bad")
    blank = preference_line("q", "good", "bad") | {"systemInstruction": {"parts": [{"text": " "}]}}
    assert validate_preference(blank) == ["systemInstruction.parts[0].text: must be non-empty text"]
