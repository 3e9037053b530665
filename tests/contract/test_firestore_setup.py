"""The Firestore setup the repository ships: the index file and the gcloud commands agree."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from tuning.cli import main
from tuning.store.firestore.setup import (
    COMPOSITE_INDEXES,
    TTL_FIELDS,
    UNINDEXED_FIELDS,
    gcloud_commands,
    indexes_file,
)

ROOT = Path(__file__).resolve().parents[2]


def test_index_file_is_rendered_from_the_one_list() -> None:
    assert json.loads((ROOT / "firestore.indexes.json").read_text()) == indexes_file()
    firebase = json.loads((ROOT / "firebase.json").read_text())
    assert firebase["firestore"]["indexes"] == "firestore.indexes.json"


def test_gcloud_commands_name_database_and_prefix() -> None:
    commands = [shlex.split(c) for c in gcloud_commands(project="p", database="db", prefix="x_")]
    assert len(commands) == len(COMPOSITE_INDEXES) + len(UNINDEXED_FIELDS) + len(TTL_FIELDS)
    for command in commands:
        assert "--project=p" in command
        assert "--database=db" in command
    groups = [arg for command in commands for arg in command if arg.startswith("--collection")]
    assert groups[-1] == "--collection-group=x_claims"
    assert set(groups) == {
        "--collection-group=x_" + name
        for name in (
            "interactions",
            "jobs",
            "feedback",
            "claims",
            "corrections",
            "manifests",
            "manifest_parts",
        )
    }
    ttl = commands[-1]
    assert ttl[:6] == ["gcloud", "firestore", "fields", "ttls", "update", "expires_at"]
    assert "--enable-ttl" in ttl


def test_records_expire_by_ttl_and_manifest_ids_are_not_indexed() -> None:
    commands = [shlex.split(c) for c in gcloud_commands(project="p", database="db")]
    ttls = {
        next(a for a in c if a.startswith("--collection-group=")).split("=")[1]
        for c in commands
        if c[1:6] == ["firestore", "fields", "ttls", "update", "expires_at"]
    }
    assert ttls == {"interactions", "feedback", "corrections", "claims"}
    exempt = [c for c in commands if c[1:5] == ["firestore", "indexes", "fields", "update"]]
    assert [c[5] for c in exempt] == ["record_ids", "record_ids"]
    assert all("--disable-indexes" in c for c in exempt)
    overrides = indexes_file()["fieldOverrides"]
    assert {(o["collectionGroup"], o["fieldPath"], len(o["indexes"])) for o in overrides} == {
        ("manifests", "record_ids", 0),
        ("manifest_parts", "record_ids", 0),
    }


def test_cli_reads_project_and_database_from_store_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STORE_URL", "firestore://prod-project/bots")
    assert main(["firestore-setup", "--prefix", "sarcasm_"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == gcloud_commands(project="prod-project", database="bots", prefix="sarcasm_")
    assert main(["firestore-setup", "--database", "other"]) == 0
    assert "--database=other" in capsys.readouterr().out


def test_cli_without_a_firestore_project_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STORE_URL", "sqlite:///store.db")
    assert main(["firestore-setup"]) == 2
    assert capsys.readouterr().err.startswith("error: STORE_URL: ")
    assert main(["firestore-setup", "--project", "p"]) == 0
    assert "'--database=(default)'" in capsys.readouterr().out
