"""A bootstrapped active model is scored on the whole validation split, like any candidate."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from tests.tuning_loop.factories import add_flags
from tuning.backends.local_job import train_local
from tuning.config import Settings
from tuning.datasets.assemble import DatasetConfig
from tuning.datasets.basedata import load_base_messages
from tuning.datasets.export import export_dataset
from tuning.datasets.formats import sft_pair
from tuning.evaluation.comparison import ModelEvaluator
from tuning.models.builders import build_from_base, register
from tuning.store.sqlite.store import SqliteStore
from tuning.text import normalize


async def test_bootstrapped_active_is_scored_on_every_validation_example(
    sqlite_store: SqliteStore, loop_settings: Settings, tmp_path: Path
) -> None:
    data_dir = loop_settings.data_dir
    active = await register(sqlite_store, build_from_base(data_dir, "classifier"), promote=True)
    assert active.job_id is None  # bootstrapped, not tuned
    await add_flags(sqlite_store, 80)
    files = await export_dataset(
        sqlite_store,
        task="classifier",
        method="sft",
        out=tmp_path / "dataset",
        data_dir=data_dir,
        config=DatasetConfig(min_train=1),
    )
    lines = files.validation.read_text(encoding="utf-8").splitlines()
    texts = {normalize(sft_pair(json.loads(line))[0]) for line in lines}
    base = {normalize(m.text) for m in load_base_messages(data_dir)}
    assert texts & base  # base rows are in the validation split...
    assert texts - base  # ...and so is feedback
    built = train_local(
        task="classifier", method="sft", dataset=files, base=active, data_dir=data_dir
    )
    candidate = await register(
        sqlite_store, dataclasses.replace(built, job_id="job-fair"), promote=False
    )

    evaluator = ModelEvaluator(settings=loop_settings, store=sqlite_store)
    comparison = await evaluator.compare(
        task="classifier",
        method="sft",
        candidate=candidate,
        active=active,
        validation=files.validation,
    )

    assert comparison.active is not None
    assert comparison.candidate["n"] == comparison.active["n"] == len(lines)
