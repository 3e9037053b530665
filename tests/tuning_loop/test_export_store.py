"""Export reads every store implementation alike (SQLite always, Firestore on its emulator)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.tuning_loop.factories import add_flags, add_replies
from tuning.datasets import DatasetConfig
from tuning.datasets.export import export_dataset, read_snapshot
from tuning.errors import StoreError
from tuning.store.base import Store
from tuning.store.sqlite.store import SqliteStore


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


async def test_an_unreadable_record_is_a_store_error_naming_it(sqlite_store: SqliteStore) -> None:
    await add_flags(sqlite_store, 3)
    with sqlite3.connect(sqlite_store.path) as db:
        db.execute("UPDATE interactions SET candidates = '[{' WHERE id = 'f1'")
    with pytest.raises(StoreError, match="'f1'"):
        await read_snapshot(sqlite_store, task="classifier")


async def test_a_bug_while_reading_is_not_called_an_unreadable_record(
    sqlite_store: SqliteStore,
) -> None:
    await add_flags(sqlite_store, 1000)  # progress is reported every 1000 records

    def broken_progress(done: int) -> None:
        raise ZeroDivisionError(done)

    with pytest.raises(ZeroDivisionError):
        await read_snapshot(sqlite_store, task="classifier", progress=broken_progress)
