"""Export reads every store implementation alike (SQLite always, Firestore on its emulator)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.tuning_loop.factories import add_flags, add_replies
from tuning.datasets import DatasetConfig
from tuning.datasets.export import export_dataset
from tuning.store.base import Store


async def test_export_from_each_store(store: Store, tmp_path: Path) -> None:
    await add_flags(store, 24)
    await add_replies(store, 12)
    await store.retract_feedback(interaction_id="f0", user="U2", reaction="x")
    config = DatasetConfig(min_train=5)
    clf = await export_dataset(
        store, task="classifier", method="sft", out=tmp_path / "c", data_dir=tmp_path, config=config
    )
    assert clf.stats["counts"]["from_feedback"] == 23  # the retracted rating no longer counts
    await export_dataset(
        store,
        task="generator",
        method="preference",
        out=tmp_path / "p",
        data_dir=tmp_path,
        config=DatasetConfig(min_train=5, min_validation=0),
    )
    lines = [json.loads(x) for x in (tmp_path / "p" / "train.jsonl").read_text().splitlines()]
    lines += [json.loads(x) for x in (tmp_path / "p" / "validation.jsonl").read_text().splitlines()]
    assert len(lines) == 12  # one human preference per "try again"
    assert all(
        "totally fixed" in line["completions"][0]["completion"]["parts"][0]["text"]
        for line in lines
    )
