"""Dataset builders: table-driven cases for each rule, then splitting and assembling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.tuning_loop.factories import interaction, reply
from tuning.datasets import BaseRow, DatasetConfig, assemble
from tuning.datasets.classifier import build_classifier_examples
from tuning.datasets.examples import Built, Example, PreferencePair, split_of
from tuning.datasets.export import write_dataset
from tuning.datasets.formats import validate_preference
from tuning.datasets.generator import build_generator_examples, build_preference_pairs
from tuning.errors import DatasetError
from tuning.prompts import CLASSIFIER_SYSTEM_PROMPT, GENERATOR_SYSTEM_PROMPT
from tuning.text import normalize


@pytest.mark.parametrize(
    ("output", "net", "expected"),
    [
        ("sarcastic", 1, "SARCASTIC"),  # confirmed flag keeps its label
        ("sarcastic", -1, "NOT_SARCASTIC"),  # a wrong flag becomes not_sarcastic
        ("SARCASTIC", 3, "SARCASTIC"),  # label words are accepted too
        ("not_sarcastic", -2, "SARCASTIC"),  # a refuted "not sarcastic" flips the other way
        ("sarcastic", 0, None),  # net zero says nothing
        ("maybe", 1, None),  # an unknown label is skipped, not guessed
        ("sarcastic", None, None),  # unrated flags are not examples
    ],
)
def test_classifier_flag_rules(output: str, net: int | None, expected: str | None) -> None:
    ratings = {} if net is None else {"i1": net}
    built = build_classifier_examples(
        [interaction("i1", "Oh sure, that will work", output)], ratings, [], balance=False
    )
    assert [e.target for e in built.items] == ([expected] if expected else [])
    if expected is None and net is not None:
        assert [s.source for s in built.skips] == ["interaction:i1"]


def test_classifier_feedback_wins_over_base_and_later_over_earlier() -> None:
    base = [BaseRow("Oh  SURE, that will work", "not_sarcastic", "seed:1")]
    flags = [
        interaction("a", "oh sure, that will work", "sarcastic", minute=1),
        interaction("b", "Oh sure, that will work ", "sarcastic", minute=2),
    ]
    built = build_classifier_examples(flags, {"a": -1, "b": 1}, base, balance=False)
    assert [(e.source, e.target) for e in built.items] == [("interaction:b", "SARCASTIC")]
    assert sorted((s.source, s.reason) for s in built.skips) == [
        ("interaction:a", "duplicate"),
        ("seed:1", "duplicate"),
    ]


def test_classifier_balances_by_dropping_base_first() -> None:
    base = [BaseRow(f"plain message {n}", "not_sarcastic", f"seed:{n}") for n in range(5)]
    flags = [interaction(f"f{n}", f"yeah right {n}", "sarcastic") for n in range(2)]
    flags.append(interaction("neg", "a normal remark", "sarcastic"))
    built = build_classifier_examples(flags, {"f0": 1, "f1": 1, "neg": -1}, base)
    labels = sorted(e.target for e in built.items)
    assert labels == ["NOT_SARCASTIC", "NOT_SARCASTIC", "SARCASTIC", "SARCASTIC"]
    kept_sources = {e.source for e in built.items}
    assert "interaction:neg" in kept_sources  # feedback survives balancing
    assert sum(s.reason == "balance" for s in built.skips) == 4


def test_classifier_redacts_pii() -> None:
    built = build_classifier_examples(
        [interaction("i", "mail me at bob@example.com, <@U123>", "sarcastic")], {"i": 1}, []
    )
    assert built.items[0].input == "mail me at [email], @user"


@pytest.mark.parametrize(
    ("net", "kept"),
    [(2, True), (1, True), (0, False), (-1, False), (None, False)],
)
def test_generator_sft_keeps_net_positive_replies(net: int | None, kept: bool) -> None:
    ratings = {} if net is None else {"r": net}
    built = build_generator_examples(
        [reply("r", "deploy on friday?", "What could go wrong.")], ratings
    )
    assert [(e.input, e.target) for e in built.items] == (
        [("deploy on friday?", "What could go wrong.")] if kept else []
    )


PROMPT = "Can we deploy on Friday?"


@pytest.mark.parametrize(
    ("replies", "ratings", "pairs"),
    [
        # A "try again" retry with a better rating: one pair.
        (
            [reply("a", PROMPT, "Sure."), reply("b", PROMPT, "Bold.", parent="a")],
            {"a": -1, "b": 1},
            [("Bold.", "Sure.", 2)],
        ),
        # The same prompt (normalised) answered twice, in different threads.
        (
            [reply("a", PROMPT, "Sure."), reply("b", "can we deploy  on friday?", "Bold.")],
            {"a": 2, "b": 1},
            [("Sure.", "Bold.", 1)],
        ),
        # A retry whose stored prompt differs still belongs to its parent's prompt.
        (
            [reply("a", PROMPT, "Sure."), reply("b", "try again", "Bold.", parent="a")],
            {"a": 0, "b": 1},
            [("Bold.", "Sure.", 1)],
        ),
        # Equal ratings: no preference was expressed.
        ([reply("a", PROMPT, "Sure."), reply("b", PROMPT, "Bold.")], {"a": 1, "b": 1}, []),
        # One side unrated: never invent a preference.
        ([reply("a", PROMPT, "Sure."), reply("b", PROMPT, "Bold.")], {"b": 1}, []),
        # Different prompts never pair.
        ([reply("a", PROMPT, "Sure."), reply("b", "Lunch?", "Bold.")], {"a": -1, "b": 1}, []),
        # The same reply text twice sums its ratings and cannot pair with itself.
        (
            [reply("a", PROMPT, "Sure."), reply("b", PROMPT, "sure."), reply("c", PROMPT, "No.")],
            {"a": 1, "b": 1, "c": 1},
            [("Sure.", "No.", 1)],
        ),
        # Three ratings: every ordered pair, biggest gap first.
        (
            [reply("a", PROMPT, "A."), reply("b", PROMPT, "B."), reply("c", PROMPT, "C.")],
            {"a": 2, "b": 0, "c": -1},
            [("A.", "C.", 3), ("A.", "B.", 2), ("B.", "C.", 1)],
        ),
    ],
)
def test_preference_pair_rule(replies: list, ratings: dict, pairs: list) -> None:
    built = build_preference_pairs(replies, ratings)
    assert [(p.chosen, p.rejected, p.margin) for p in built.items] == pairs


def test_preference_pairs_are_capped_per_prompt() -> None:
    replies = [reply(str(n), PROMPT, f"reply {n}") for n in range(6)]
    built = build_preference_pairs(replies, {str(n): n for n in range(6)}, max_pairs_per_prompt=4)
    assert len(built.items) == 4
    assert sum(s.reason == "too many pairs" for s in built.skips) == 15 - 4


def test_split_is_stable_and_keyed_by_normalised_text() -> None:
    keys = [normalize(f"Message number {n}") for n in range(2000)]
    first = [split_of(k, validation_fraction=0.1) for k in keys]
    assert first == [split_of(k, validation_fraction=0.1) for k in keys]
    share = first.count("validation") / len(first)
    assert 0.07 < share < 0.13


def _examples(n: int) -> Built:
    return Built(
        items=tuple(
            Example(key=f"text {i}", input=f"text {i}", target="SARCASTIC", source=f"s{i}")
            for i in range(n)
        )
    )


def test_assemble_keeps_each_example_in_its_split_as_data_grows() -> None:
    config = DatasetConfig(min_train=10)
    small = assemble("classifier", "sft", _examples(200), config)
    large = assemble("classifier", "sft", _examples(400), config)
    assert set(small.validation) <= set(large.validation)
    assert set(small.train) <= set(large.train)
    line = json.loads(small.train[0])
    assert line["systemInstruction"]["parts"][0]["text"] == CLASSIFIER_SYSTEM_PROMPT
    assert [c["role"] for c in line["contents"]] == ["user", "model"]


@pytest.mark.parametrize(
    ("n", "config", "message"),
    [
        (0, DatasetConfig(), "0 training examples, need at least 100"),
        (50, DatasetConfig(), "need at least 100"),
        (
            5,
            DatasetConfig(min_train=1, min_validation=1, validation_fraction=0.01),
            "validation examples",
        ),
    ],
)
def test_assemble_refuses_small_datasets(n: int, config: DatasetConfig, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        assemble("classifier", "sft", _examples(n), config)


def test_assemble_caps_validation_without_moving_examples() -> None:
    config = DatasetConfig(min_train=10, validation_fraction=0.5, max_validation=20)
    data = assemble("classifier", "sft", _examples(200), config)
    assert len(data.validation) == 20
    assert data.stats["counts"]["skipped_by_reason"]["validation cap"] > 50
    assert len(data.train) + 20 + data.stats["counts"]["skipped"] == 200


def test_assemble_skips_invalid_lines_with_reasons() -> None:
    items = (
        *_examples(20).items,
        Example(key="x", input="   ", target="SARCASTIC", source="blank"),
        Example(key="y", input="call 555 123 4567 now", target="SARCASTIC", source="pii"),
    )
    data = assemble("classifier", "sft", Built(items=items), DatasetConfig(min_train=5))
    skips = {s["source"]: s for s in data.stats["skips"]}
    assert skips["blank"]["reason"] == "invalid line"
    assert "non-empty text" in skips["blank"]["detail"]
    assert "personal data left (phone)" in skips["pii"]["detail"]


def test_preference_lines_carry_the_generator_system_prompt_as_sft_and_serving_do() -> None:
    pairs = Built(
        items=tuple(
            PreferencePair(f"p{i}", f"prompt {i}", "Oh, lovely.", "ok", source=f"s{i}", margin=1)
            for i in range(40)
        )
    )
    data = assemble("generator", "preference", pairs, DatasetConfig(min_train=10))
    for text in (*data.train, *data.validation):
        line = json.loads(text)
        assert line["systemInstruction"] == {"parts": [{"text": GENERATOR_SYSTEM_PROMPT}]}
        assert validate_preference(line) == []


def test_preference_for_classifier_is_refused() -> None:
    with pytest.raises(DatasetError, match="generator only"):
        assemble("classifier", "preference", _examples(200), DatasetConfig())


def test_write_is_all_or_nothing(tmp_path: Path) -> None:
    data = assemble("classifier", "sft", _examples(40), DatasetConfig(min_train=10))
    out = tmp_path / "out"
    out.mkdir()
    (out / "validation.jsonl").mkdir()  # the rename of this file will fail
    with pytest.raises(DatasetError, match="could not write the dataset"):
        write_dataset(data, out)
    assert sorted(p.name for p in out.iterdir()) == ["validation.jsonl"]  # no temp files left
    assert not (out / "stats.json").exists()
    files = write_dataset(data, tmp_path / "fresh")
    assert files.train.read_text().count("\n") == len(data.train)


def test_a_failed_rewrite_keeps_the_previous_dataset(tmp_path: Path) -> None:
    old = assemble("classifier", "sft", _examples(40), DatasetConfig(min_train=10))
    new = assemble("classifier", "sft", _examples(80), DatasetConfig(min_train=10))
    out = tmp_path / "out"
    write_dataset(old, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (out / "stats.json").unlink()
    (out / "stats.json").mkdir()  # the last rename fails after the first two succeeded
    with pytest.raises(DatasetError):
        write_dataset(new, out)
    assert (out / "train.jsonl").read_bytes() == before["train.jsonl"]
    assert (out / "validation.jsonl").read_bytes() == before["validation.jsonl"]
    assert sorted(p.name for p in out.iterdir()) == [
        "feedback.jsonl",  # the local-only human feedback file (tuning.datasets.feedback)
        "stats.json",
        "train.jsonl",
        "validation.jsonl",
    ]
