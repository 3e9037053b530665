"""``python -m tuning classify`` end to end (subprocess), and its input reading (fuzzed)."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.models.conftest import Cli
from tuning.cli.classify import read_texts
from tuning.errors import DatasetError
from tuning.text import MAX_TEXT_CHARS

TEXTS = ["oh great, another outage", "the report is attached", "sure, deploy on a Friday, why not"]


def parse_lines(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_stdin_lines_give_one_json_line_each_in_order(trained_cli: Cli) -> None:
    result = trained_cli(["classify"], stdin="\n".join(TEXTS).encode() + b"\n")
    assert result.code == 0, result.stderr
    records = parse_lines(result.stdout)
    assert [r["text"] for r in records] == TEXTS
    for record in records:
        assert set(record) == {"text", "label", "probability"}
        assert record["label"] in ("sarcastic", "not_sarcastic")
        assert isinstance(record["probability"], float)
        assert 0.0 <= record["probability"] <= 1.0
    assert "classified 3 texts with clf-" in result.stderr


def test_csv_column_and_out_file(trained_cli: Cli) -> None:
    source = trained_cli.workdir / "in.csv"
    rows = [
        {"id": str(i), "msg": text} for i, text in enumerate([*TEXTS, 'quoted "x", comma\nnewline'])
    ]
    with source.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "msg"])
        writer.writeheader()
        writer.writerows(rows)
    out = trained_cli.workdir / "out.jsonl"
    result = trained_cli(
        ["classify", "--in", str(source), "--text-col", "msg", "--out", str(out), "--json"]
    )
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["count"] == 4
    assert summary["out"] == str(out)
    assert [r["text"] for r in parse_lines(out.read_text(encoding="utf-8"))] == [
        r["msg"] for r in rows
    ]


def test_same_model_serves_repeated_runs(trained_cli: Cli) -> None:
    first = trained_cli(["classify", "--json"], stdin=b"one\n")
    second = trained_cli(["classify"], stdin=b"one\n")
    assert first.stdout == second.stdout
    assert first.stderr.split(" with ")[1] == second.stderr.split(" with ")[1]


BAD_INPUTS = [
    pytest.param(b"fine\n\nalso fine\n", [], "<stdin>: line 2: empty text", id="empty-line"),
    pytest.param(
        b"ok\n" + b"x" * 40_000 + b"\n",
        [],
        "<stdin>: line 2: text is 40,000 characters (limit 4,000)",
        id="too-long",
    ),
    pytest.param(b"ok\n\xff\xfeoops\n", [], "<stdin>: invalid UTF-8 at byte offset 3", id="utf8"),
    pytest.param(
        b"id,message\n1,hello\n",
        ["--text-col", "text"],
        "<stdin>: no column 'text' (columns: 'id', 'message')",
        id="missing-column",
    ),
    pytest.param(
        b'text\nhello\n""\n', ["--text-col", "text"], "<stdin>: line 3: empty text", id="csv-empty"
    ),
]


@pytest.mark.parametrize(("stdin", "args", "message"), BAD_INPUTS)
def test_bad_input_stops_with_one_line_and_changes_nothing(
    cli: Cli, stdin: bytes, args: list[str], message: str
) -> None:
    out = cli.workdir / "out.jsonl"
    out.write_text("previous\n", encoding="utf-8")
    result = cli(["classify", "--out", str(out), *args], stdin=stdin)
    assert result.code == 1
    assert result.stderr.strip() == f"error: {message}"
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert out.read_text(encoding="utf-8") == "previous\n"
    assert not cli.store_path.exists()
    assert not cli.data_dir.exists()


def test_invalid_utf8_file_is_named_with_the_offset(cli: Cli) -> None:
    bad = cli.workdir / "bad.txt"
    bad.write_bytes("héllo\n".encode() + b"\xc3\x28\n")
    result = cli(["classify", "--in", str(bad)])
    assert result.code == 1
    assert result.stderr.strip() == f"error: {bad}: invalid UTF-8 at byte offset 7"


def test_missing_input_file(cli: Cli) -> None:
    result = cli(["classify", "--in", str(cli.workdir / "nope.txt")])
    assert result.code == 1
    assert "nope.txt: cannot read" in result.stderr


def test_skip_empty_warns_and_keeps_order(trained_cli: Cli) -> None:
    result = trained_cli(["classify", "--skip-empty"], stdin=b"a thing\n\nanother thing\n")
    assert result.code == 0, result.stderr
    assert [r["text"] for r in parse_lines(result.stdout)] == ["a thing", "another thing"]
    assert "skipped 1 empty texts" in result.stderr


def test_unreadable_model_file_is_named(cli: Cli) -> None:
    assert cli(["classify"], stdin=b"train first\n").code == 0
    (model,) = cli.data_dir.glob("models/classifier/*/classifier.skops")
    model.write_bytes(b"\x00not a model")
    result = cli(["classify"], stdin=b"hello\n")
    assert result.code == 1
    assert result.stderr.strip() == f"error: {model}: unreadable model file (BadZipFile)"
    assert result.stdout == ""


def test_help_mentions_the_options(cli: Cli) -> None:
    result = cli(["classify", "--help"])
    assert result.code == 0
    for option in ("--in", "--text-col", "--out", "--json", "--skip-empty"):
        assert option in result.stdout


# -- fuzz: the reader either returns every text in order or raises one DatasetError ---------------

LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
line_text = st.text(st.characters(codec="utf-8", exclude_characters=LINE_BREAKS), max_size=60)
cell = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)


def read_or_error(data: bytes, column: str | None) -> tuple[str, list[str] | None, str | None]:
    """Write ``data`` to a file and read it; return the path, the texts or the error message."""
    with tempfile.NamedTemporaryFile("wb", suffix=".txt", delete=False) as handle:
        handle.write(data)
    try:
        return handle.name, read_texts(handle.name, column), None
    except DatasetError as exc:
        return handle.name, None, str(exc)
    finally:
        Path(handle.name).unlink()


@settings(max_examples=60, deadline=None)
@given(st.lists(line_text, min_size=1, max_size=8))
def test_fuzz_lines(lines: list[str]) -> None:
    content = "\n".join(lines)
    expected = content.splitlines()  # a trailing newline ends the last line, it adds none
    _, texts, error = read_or_error(content.encode(), None)
    if error is None:
        assert texts == [line.strip() for line in expected]
    else:
        assert "empty text" in error
        assert any(not line.strip() for line in expected)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=80))
def test_fuzz_bytes(data: bytes) -> None:
    path, texts, error = read_or_error(data, None)
    if error is None:
        assert texts is not None
        assert len(texts) == len(data.decode("utf-8-sig").splitlines())
    else:
        assert error.startswith(path)
        assert "\n" not in error


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(cell, cell), min_size=1, max_size=6), st.sampled_from(["msg", "other"]))
def test_fuzz_csv(rows: list[tuple[str, str]], column: str) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["msg", "note"])
    writer.writerows(rows)
    path, texts, error = read_or_error(buffer.getvalue().encode(), column)
    if error is None:
        assert column == "msg"
        assert texts == [r[0].strip() for r in rows]
    else:
        assert error.startswith(path)
        assert column == "other" or "empty text" in error


def test_limit_is_documented_and_enforced() -> None:
    data = ("y" * MAX_TEXT_CHARS + "\n" + "z" * (MAX_TEXT_CHARS + 1)).encode()
    _, _, error = read_or_error(data, None)
    assert error is not None
    assert error.endswith("line 2: text is 4,001 characters (limit 4,000)")


def test_labels_use_the_threshold_the_model_stores(trained_cli: Cli) -> None:
    [meta] = (trained_cli.data_dir / "models/classifier").glob("*/meta.json")
    threshold = json.loads(meta.read_text(encoding="utf-8"))["metrics"]["threshold"]
    assert threshold != 0.5  # chosen on the model's out-of-fold probabilities, not fixed
    texts = [*TEXTS, "thanks, the fix works", "wow, a meeting about meetings, how novel"]
    result = trained_cli(["classify"], stdin="\n".join(texts).encode() + b"\n")
    assert result.code == 0, result.stderr
    for record in parse_lines(result.stdout):
        probability = record["probability"]
        assert isinstance(probability, float)
        expected = "sarcastic" if probability >= threshold else "not_sarcastic"
        assert record["label"] == expected
