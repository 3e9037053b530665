"""Human feedback in the datasets: corrections, every rating, channel labels, and their splits."""

from __future__ import annotations

import json
from pathlib import Path

from tests.tuning_loop.factories import flag_texts, interaction, reply
from tuning.datasets.assemble import DatasetConfig
from tuning.datasets.examples import split_of
from tuning.datasets.export import TRAIN_FEEDBACK, Snapshot, build_dataset, write_dataset
from tuning.datasets.feedback import RatedReply, read_feedback
from tuning.datasets.formats import preference_triple, sft_pair, validate_preference, validate_sft
from tuning.datasets.generator import build_generator_examples, build_preference_pairs
from tuning.records import Correction
from tuning.text import normalize

OPEN = DatasetConfig(min_train=1, validation_fraction=0.3)


def _snapshot(n: int) -> Snapshot:
    """``n`` prompts, each with a 👎 reply corrected by a person, and a 👍 retry on even ones."""
    replies, ratings, corrections = [], {}, []
    for i in range(n):
        prompt = f"Is the deploy number {i} done yet?"
        first = reply(f"r{i}", prompt, f"Deploy {i} is fine.", minute=2 * i)
        replies.append(first)
        ratings[first.id] = -1
        corrections.append(Correction(first.id, "U7", f"Deploy {i}? Done, in spirit. Someday."))
        if i % 2 == 0:
            retry = reply(f"t{i}", prompt, f"Oh, deploy {i} is SO done.", parent=first.id)
            replies.append(retry)
            ratings[retry.id] = 1
    return Snapshot(tuple(replies), ratings, tuple(corrections))


def test_a_correction_is_an_sft_target_and_a_pair_preferred_over_the_reply() -> None:
    snapshot = _snapshot(4)
    examples = build_generator_examples(
        snapshot.interactions, snapshot.ratings, corrections=snapshot.corrections
    )
    targets = {e.target for e in examples.items}
    assert "Deploy 1? Done, in spirit. Someday." in targets  # no 👍 reply for prompt 1 at all
    assert examples.counts["corrections"] == 4
    pairs = build_preference_pairs(
        snapshot.interactions, snapshot.ratings, corrections=snapshot.corrections
    )
    corrected = [p for p in pairs.items if p.source.startswith("correction:")]
    assert [(p.chosen, p.rejected) for p in corrected][:1] == [
        ("Deploy 0? Done, in spirit. Someday.", "Deploy 0 is fine.")
    ]
    assert pairs.counts["corrections"] == 4
    assert len(pairs.items) == 4 + 2  # and the rated retries of prompts 0 and 2


def test_a_correction_that_repeats_the_reply_or_names_no_reply_is_skipped() -> None:
    first = reply("r", "Is it done?", "It is done.")
    same = Correction("r", "U7", "  it is DONE. ")
    unknown = Correction("missing", "U7", "Something better.")
    built = build_preference_pairs([first], {}, corrections=[same, unknown])
    assert built.items == ()
    assert {(s.reason, s.source) for s in built.skips} == {
        ("no preference", "correction:r:U7>interaction:r"),
        ("unknown reply", "correction:missing:U7"),
    }


def test_every_rating_and_pair_lands_in_its_prompts_split(tmp_path: Path) -> None:
    snapshot = _snapshot(30)
    for method in ("sft", "preference"):
        dataset = build_dataset("generator", method, snapshot, config=OPEN)
        files = write_dataset(dataset, tmp_path / method)
        assert files.feedback is not None
        validate = validate_sft if method == "sft" else validate_preference
        for line in (*dataset.train, *dataset.validation):
            assert validate(json.loads(line)) == []  # still valid for Vertex
        train = read_feedback(files.feedback, split="train")
        held = read_feedback(files.feedback, split="validation")
        assert len(train.ratings) + len(held.ratings) == len(snapshot.ratings)  # 👍 and 👎
        assert {r.liked for r in held.ratings} == {True, False}
        assert len(train.pairs) + len(held.pairs) == 30 + 15
        for prompt in [r.prompt for r in held.ratings] + [p.prompt for p in held.pairs]:
            assert split_of(normalize(prompt), validation_fraction=0.3) == "validation"
        prompts = (
            {normalize(sft_pair(json.loads(line))[0]) for line in dataset.validation}
            if method == "sft"
            else {normalize(preference_triple(json.loads(line))[0]) for line in dataset.validation}
        )
        assert prompts <= {normalize(p.prompt) for p in held.pairs}
        assert dataset.stats["counts"][TRAIN_FEEDBACK] == len(train.ratings) + sum(
            1 for p in train.pairs if p.chosen.endswith("Someday.")
        )


def test_channel_labels_carry_their_channel_and_split(tmp_path: Path) -> None:
    flags = [
        interaction(f"f{i}", text, label, minute=i)
        for i, (text, label, _) in enumerate(flag_texts(40))
    ]
    ratings = {f"f{i}": rating for i, (_, _, rating) in enumerate(flag_texts(40))}
    dataset = build_dataset("classifier", "sft", Snapshot(tuple(flags), ratings), config=OPEN)
    files = write_dataset(dataset, tmp_path)
    assert files.feedback is not None
    rows = [
        *read_feedback(files.feedback, split="train").labels,
        *read_feedback(files.feedback, split="validation").labels,
    ]
    assert len(rows) == 40
    assert {row.channel for row in rows} == {"C1"}
    validation = {normalize(sft_pair(json.loads(line))[0]) for line in dataset.validation}
    for row in rows:
        assert (normalize(row.text) in validation) is (row.split == "validation")


def test_no_feedback_file_is_no_feedback(tmp_path: Path) -> None:
    assert read_feedback(tmp_path / "absent.jsonl", split="train").size == 0
    assert RatedReply("train", "p", "r", True).liked
