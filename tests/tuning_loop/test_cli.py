"""The tuning CLI as a user runs it: subprocesses with a temporary STORE_URL and DATA_DIR."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tuning_loop.factories import add_flags
from tuning.records import JobRecord
from tuning.store.sqlite.store import SqliteStore

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
VERBS = ["export", "run", "tick", "status", "jobs", "promote", "rollback", "evaluate"]


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "GOOGLE_", "VERTEX_"))
        },
        "STORE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "DATA_DIR": str(tmp_path / "data"),
        "MODEL_BACKEND": "local",
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.run(
        [sys.executable, "-m", "tuning", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def seed(tmp_path: Path, flags: int) -> None:
    async def go() -> None:
        store = SqliteStore(tmp_path / "store.db")
        await store.open()
        await add_flags(store, flags)
        await store.close()

    asyncio.run(go())


@pytest.mark.parametrize("verb", VERBS)
def test_every_verb_has_help_and_json(tmp_path: Path, verb: str) -> None:
    result = cli(tmp_path, verb, "--help")
    assert result.returncode == 0
    assert "--json" in result.stdout


def test_too_small_dataset_is_one_line_and_no_files(tmp_path: Path) -> None:
    result = cli(tmp_path, "export", "--task", "generator", "--method", "sft", "--out", "out")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: generator sft dataset too small: 0 training examples, "
        "need at least 20 (skipped: none)"
    ]
    assert not list((tmp_path / "out").glob("*"))


def test_corrupted_store_record_is_named_and_nothing_written(tmp_path: Path) -> None:
    seed(tmp_path, 30)
    with sqlite3.connect(tmp_path / "store.db") as db:
        db.execute("UPDATE interactions SET created_at = 'not a time' WHERE id = 'f7'")
    result = cli(tmp_path, "export", "--task", "classifier", "--method", "sft", "--out", "out")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error:")
    assert "'f7'" in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out" / "train.jsonl").exists()


def test_export_writes_its_files_with_stats(tmp_path: Path) -> None:
    seed(tmp_path, 60)
    result = cli(
        tmp_path, "export", "--task", "classifier", "--method", "sft", "--out", "out", "--json"
    )
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["counts"]["from_feedback"] == 60
    on_disk = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert on_disk["counts"] == stats["counts"]
    assert len(on_disk["skips"]) == stats["counts"]["skipped"]
    train = (tmp_path / "out" / "train.jsonl").read_text().splitlines()
    assert len(train) == stats["counts"]["train"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "feedback.jsonl",  # the local-only human feedback file (tuning.datasets.feedback)
        "stats.json",
        "train.jsonl",
        "validation.jsonl",
    ]
    labels = (tmp_path / "out" / "feedback.jsonl").read_text().splitlines()
    assert len(labels) == stats["counts"]["from_feedback"]  # one channel label per flag kept


def test_run_status_jobs_rollback_promote(tmp_path: Path) -> None:
    seed(tmp_path, 60)
    first = cli(tmp_path, "run", "--task", "classifier", "--method", "sft", "--json")
    assert first.returncode == 0, first.stderr
    job = json.loads(first.stdout)
    assert job["state"] == "SUCCEEDED"
    assert job["outcome"] == "promoted"  # nothing was active yet
    second = cli(tmp_path, "run", "--task", "classifier", "--method", "sft", "--force", "--json")
    job2 = json.loads(second.stdout)
    assert job2["outcome"] == "promoted"

    status = json.loads(cli(tmp_path, "status", "--json").stdout)
    assert status["active"]["classifier"]["version"] == job2["candidate_version"]
    assert status["running"] == []

    detail = cli(tmp_path, "jobs", job["id"])
    assert "QUEUED" in detail.stdout
    assert "EVALUATING" in detail.stdout
    listed = json.loads(cli(tmp_path, "jobs", "--json").stdout)
    assert [j["id"] for j in listed] == [job2["id"], job["id"]]

    back = json.loads(cli(tmp_path, "rollback", "--task", "classifier", "--json").stdout)
    assert back["version"] == job["candidate_version"]
    again = cli(tmp_path, "promote", "--task", "classifier", "--version", job2["candidate_version"])
    assert again.returncode == 0
    assert job2["candidate_version"] in again.stdout
    missing = cli(tmp_path, "promote", "--task", "classifier", "--version", "nope")
    assert missing.returncode == 1
    assert missing.stderr.startswith("error:")

    evaluated = json.loads(
        cli(
            tmp_path,
            "evaluate",
            "--task",
            "classifier",
            "--version",
            job["candidate_version"],
            "--json",
        ).stdout
    )
    assert evaluated["key"] == "f1"
    assert set(evaluated["candidate"]) >= {"f1", "precision", "recall", "accuracy", "roc_auc"}


def test_failed_job_error_shows_in_status(tmp_path: Path) -> None:
    failed = cli(tmp_path, "run", "--task", "generator", "--method", "sft")
    assert failed.returncode == 1
    assert "FAILED" in failed.stdout
    status = cli(tmp_path, "status")
    assert "generator sft on local  FAILED" in status.stdout
    assert "error: generator sft dataset too small" in status.stdout


def test_tick_launches_when_due_and_vertex_without_config_is_one_line(tmp_path: Path) -> None:
    seed(tmp_path, 60)
    ticked = cli(tmp_path, "tick", "--json")
    assert ticked.returncode == 0, ticked.stderr
    result = json.loads(ticked.stdout)
    assert result["launched"]["task"] == "classifier"
    assert result["launched"]["state"] == "SUCCEEDED"
    quiet = json.loads(cli(tmp_path, "tick", "--json").stdout)
    assert quiet["launched"] is None
    vertex = cli(tmp_path, "run", "--task", "classifier", "--method", "sft", "--backend", "vertex")
    assert vertex.returncode == 1
    assert vertex.stderr.strip().count("\n") == 0
    assert "vertex" in vertex.stderr


def test_jobs_cancel_an_unfinished_job(tmp_path: Path) -> None:
    async def orphan() -> None:
        store = SqliteStore(tmp_path / "store.db")
        await store.open()
        await store.save_job(
            JobRecord(id="job-x", task="classifier", method="sft", backend="local", state="RUNNING")
        )
        await store.close()

    asyncio.run(orphan())
    result = cli(tmp_path, "jobs", "job-x", "--cancel", "--json")
    assert result.returncode == 0, result.stderr
    job = json.loads(result.stdout)
    assert job["state"] == "CANCELLED"
    assert job["error"] == "cancelled on request"
    assert "running jobs: none" in cli(tmp_path, "status").stdout
