"""Fuzz the whole build: any texts and ratings give valid, PII-free lines or a clear error."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.tuning_loop.factories import interaction, reply
from tuning.datasets import DatasetConfig
from tuning.datasets.export import Snapshot, build_dataset
from tuning.datasets.formats import validate_preference, validate_sft
from tuning.errors import DatasetError
from tuning.records import Method, Task
from tuning.redaction import find_pii

# Texts that mix plain words with things that must never reach a dataset.
pieces = st.sampled_from(
    [
        "oh great",
        "sure",
        "bob@example.com",
        "+1 415 555 0100",
        "<@U12345>",
        "xoxb-1234567890-abc",
        "   ",
        "",
        "🙃",
        "\n",
        "Monday",
        "AKIAABCDEFGHIJKLMNOP",
        "ok",
    ]
)
texts = st.lists(pieces | st.text(max_size=15), min_size=0, max_size=5).map(" ".join)
rows = st.lists(
    st.tuples(
        texts,
        texts,
        st.sampled_from(["sarcastic", "not_sarcastic", "??"]),
        st.one_of(st.none(), st.integers(-3, 3)),
        st.booleans(),
    ),
    max_size=25,
)
JOBS: list[tuple[Task, Method]] = [
    ("classifier", "sft"),
    ("generator", "sft"),
    ("generator", "preference"),
]


@settings(max_examples=60, deadline=None)
@given(rows, st.sampled_from(JOBS))
def test_any_input_yields_valid_lines_or_a_dataset_error(
    data: list[tuple[str, str, str, int | None, bool]], job: tuple[Task, Method]
) -> None:
    task, method = job
    interactions, ratings = [], {}
    for n, (text, answer, label, rating, retry) in enumerate(data):
        if task == "classifier":
            item = interaction(f"i{n}", text, label, minute=n)
        else:
            item = reply(
                f"i{n}", text, answer, parent=f"i{n - 1}" if retry and n else None, minute=n
            )
        interactions.append(item)
        if rating is not None:
            ratings[item.id] = rating
    snapshot = Snapshot(interactions=tuple(interactions), ratings=ratings)
    config = DatasetConfig(min_train=1, min_validation=0)
    try:
        dataset = build_dataset(task, method, snapshot, config=config)
    except DatasetError as exc:
        error = str(exc)
    else:
        error = ""
    if error:
        assert "too small" in error
        return
    validate = validate_preference if method == "preference" else validate_sft
    for line in (*dataset.train, *dataset.validation):
        parsed = json.loads(line)
        assert validate(parsed) == []
        assert find_pii(line) == []
    counts = dataset.stats["counts"]
    assert counts["skipped"] == len(dataset.stats["skips"])
