"""Atomic writes: the target holds the old content or the new, and no temporary file stays."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuning.files import replacing, write_all_atomic, write_atomic


def test_write_atomic_writes_text_and_bytes_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "out.jsonl"
    assert write_atomic(target, "ü\r\n") == target
    assert target.read_bytes() == "ü\r\n".encode()  # UTF-8, newlines as given
    write_atomic(target, b"\x00new")
    assert target.read_bytes() == b"\x00new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.jsonl"]


def test_a_write_that_fails_midway_leaves_the_target_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "model.skops"
    target.write_bytes(b"old")

    def write_half() -> None:
        with replacing(target) as temp:
            temp.write_bytes(b"half of the new")
            raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError, match="disk gone"):
        write_half()
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.skops"]


def test_a_failed_rename_leaves_no_temp_file(tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    (taken / "inside").mkdir(parents=True)  # a directory cannot be replaced by a file
    with pytest.raises(IsADirectoryError):
        write_atomic(taken, "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
    assert [p.name for p in taken.iterdir()] == ["inside"]


def test_write_all_atomic_puts_back_every_file_when_one_fails(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_bytes(b"old a")
    (tmp_path / "b.jsonl" / "inside").mkdir(parents=True)  # the second file cannot be placed
    with pytest.raises(IsADirectoryError):
        write_all_atomic(tmp_path, {"a.jsonl": b"new a", "b.jsonl": b"new b"})
    assert (tmp_path / "a.jsonl").read_bytes() == b"old a"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "b.jsonl"]
    write_all_atomic(tmp_path, {"a.jsonl": b"new a", "c.jsonl": b"new c"})
    assert (tmp_path / "a.jsonl").read_bytes() == b"new a"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "b.jsonl", "c.jsonl"]
