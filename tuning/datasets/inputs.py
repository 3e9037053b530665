"""Read user-supplied text files (plain lines, CSV, JSON lines) with one-line errors.

Every problem raises :class:`DatasetError` naming the source and the line (or byte offset), so a
CLI can print it and stop before writing anything.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tuning.errors import DatasetError
from tuning.text import MAX_TEXT_CHARS

STDIN = "<stdin>"


@dataclass(frozen=True)
class Row:
    """One input record: where it came from (1-based line) and its named fields."""

    line: int
    fields: dict[str, str]


def read_source(path: str | None) -> tuple[str, str]:
    """Return ``(name, text)`` of a file (or stdin for None or ``-``), strictly UTF-8."""
    name = STDIN if path in (None, "-") else str(path)
    try:
        data = sys.stdin.buffer.read() if name == STDIN else Path(name).read_bytes()
    except OSError as exc:
        raise DatasetError(f"{name}: cannot read ({exc.strerror or exc})") from exc
    try:
        return name, data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{name}: invalid UTF-8 at byte offset {exc.start}") from exc


def check_text(text: str, *, source: str, line: int, limit: int = MAX_TEXT_CHARS) -> str:
    """Return ``text`` stripped; raise DatasetError if it is empty or longer than ``limit``."""
    stripped = text.strip()
    if not stripped:
        raise DatasetError(f"{source}: line {line}: empty text")
    if len(stripped) > limit:
        raise DatasetError(
            f"{source}: line {line}: text is {len(stripped):,} characters (limit {limit:,})"
        )
    return stripped


def plain_lines(text: str) -> list[Row]:
    """Return one row per line, with the line as field ``text`` (a final newline is no line)."""
    return [Row(i, {"text": line}) for i, line in enumerate(text.splitlines(), start=1)]


def _require(columns: Sequence[str], available: Sequence[str], source: str) -> None:
    for column in columns:
        if column not in available:
            listed = ", ".join(repr(c) for c in available) or "none"
            raise DatasetError(f"{source}: no column {column!r} (columns: {listed})")


def csv_rows(text: str, *, source: str, columns: Sequence[str]) -> list[Row]:
    """Return the rows of a CSV with a header, checking that ``columns`` exist."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        _require(columns, reader.fieldnames or [], source)
        rows = []
        start = reader.line_num + 1
        for record in reader:
            rows.append(Row(start, {k: v or "" for k, v in record.items() if isinstance(k, str)}))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise DatasetError(f"{source}: line {reader.line_num}: bad CSV ({exc})") from exc
    return rows


def jsonl_rows(text: str, *, source: str, columns: Sequence[str]) -> list[Row]:
    """Return the objects of a JSON-lines file, checking that each has ``columns``."""
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{source}: line {number}: invalid JSON ({exc.msg})") from exc
        if not isinstance(record, dict):
            raise DatasetError(f"{source}: line {number}: expected a JSON object")
        _require(columns, list(record), f"{source}: line {number}")
        fields = {k: "" if v is None else str(v) for k, v in record.items()}
        rows.append(Row(number, fields))
    return rows


def table_rows(path: str, text: str, *, columns: Sequence[str]) -> list[Row]:
    """Return the rows of a CSV or JSON-lines file, chosen by its extension."""
    if path.lower().endswith((".jsonl", ".ndjson", ".json")):
        return jsonl_rows(text, source=path, columns=columns)
    return csv_rows(text, source=path, columns=columns)
