"""Base data: shipped seed files plus bootstrapped JSON lines, de-duplicated on normalised text."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuning.datasets.basedata import (
    LabelledMessage,
    ReplyPair,
    dedupe_messages,
    dedupe_pairs,
    fingerprint,
    load_base_messages,
    load_base_pairs,
    load_seed_messages,
    load_seed_pairs,
    save_bootstrapped,
)
from tuning.errors import DatasetError


def test_seed_files_ship_in_the_package() -> None:
    messages, pairs = load_seed_messages(), load_seed_pairs()
    assert len(messages) >= 400
    assert len(pairs) >= 200
    assert {m.label for m in messages} == {0, 1}
    assert all(m.text.strip() for m in messages)


def test_base_data_adds_bootstrapped_rows_without_duplicates(tmp_path: Path) -> None:
    seed = load_seed_messages()
    new = [
        LabelledMessage("A brand new SARCASTIC line", 1),
        LabelledMessage(seed[0].text.upper(), 1),
    ]
    pair = ReplyPair("brand new message", "brand new reply")
    written = save_bootstrapped(tmp_path, name="extra", messages=new, pairs=[pair])
    assert [p.name for p in written] == ["extra.messages.jsonl", "extra.pairs.jsonl"]
    base = load_base_messages(tmp_path)
    assert len(base) == len(seed) + 1  # the upper-cased seed row is a duplicate
    assert base[: len(seed)] == seed  # seed first, and it wins
    assert load_base_pairs(tmp_path)[-1] == pair
    assert not list(tmp_path.glob("base/.*.tmp"))


def test_unreadable_bootstrapped_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    bad = tmp_path / "base/broken.messages.jsonl"
    bad.write_text('{"text": "x", "label": 1}\n{oops\n', encoding="utf-8")
    with pytest.raises(DatasetError, match=r"broken\.messages\.jsonl"):
        load_base_messages(tmp_path)


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (
            [LabelledMessage("Hi  there", 1), LabelledMessage("hi there", 0)],
            [LabelledMessage("Hi  there", 1)],
        ),
        ([LabelledMessage("  ", 1), LabelledMessage("x", 0)], [LabelledMessage("x", 0)]),
        # Case-folded, as datasets key their examples: one street, not two.
        (
            [LabelledMessage("Straße", 1), LabelledMessage("STRASSE", 0)],
            [LabelledMessage("Straße", 1)],
        ),
    ],
)
def test_dedupe_messages(rows: list[LabelledMessage], expected: list[LabelledMessage]) -> None:
    assert dedupe_messages(rows) == expected


def test_dedupe_pairs_needs_both_sides() -> None:
    assert dedupe_pairs([ReplyPair("a", ""), ReplyPair("a", "b"), ReplyPair("A", "B")]) == [
        ReplyPair("a", "b")
    ]


def test_fingerprint_is_stable_and_order_sensitive() -> None:
    assert fingerprint(["a", "b"]) == fingerprint(["a", "b"])
    assert fingerprint(["a", "b"]) != fingerprint(["b", "a"])
    assert len(fingerprint([])) == 64
