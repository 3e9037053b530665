"""Base data: the seed files shipped in the package plus datasets the user bootstrapped.

Seed data lives in ``tuning/seed/`` (``messages.csv``: text,label; ``pairs.csv``: message,reply)
and is read with :mod:`importlib.resources`, so it works from a wheel. Bootstrapped data is
JSON lines under ``DATA_DIR/base/`` (``<name>.messages.jsonl`` and ``<name>.pairs.jsonl``).
Rows are de-duplicated on normalised text; the first occurrence wins, seed first.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from tuning.errors import DatasetError
from tuning.files import write_atomic
from tuning.text import normalize


@dataclass(frozen=True)
class LabelledMessage:
    """A message and whether it is sarcastic (1) or not (0): base data and local training input."""

    text: str
    label: int


@dataclass(frozen=True)
class ReplyPair:
    """A message and a sarcastic reply to it (what the local generator retrieves from)."""

    message: str
    reply: str


def _seed_csv(name: str) -> list[dict[str, str]]:
    try:
        raw = resources.files("tuning").joinpath("seed").joinpath(name).read_text(encoding="utf-8")
    except (FileNotFoundError, OSError) as exc:
        raise DatasetError(f"seed file tuning/seed/{name} is missing from the package") from exc
    return list(csv.DictReader(io.StringIO(raw)))


def load_seed_messages() -> list[LabelledMessage]:
    """Return the labelled seed messages shipped with the package."""
    return dedupe_messages(
        LabelledMessage(row["text"], int(row["label"])) for row in _seed_csv("messages.csv")
    )


def load_seed_pairs() -> list[ReplyPair]:
    """Return the seed (message, sarcastic reply) pairs shipped with the package."""
    return dedupe_pairs(ReplyPair(row["message"], row["reply"]) for row in _seed_csv("pairs.csv"))


def dedupe_messages(rows: Iterable[LabelledMessage]) -> list[LabelledMessage]:
    """Drop blank rows and repeats of a normalised text, keeping the first."""
    seen: dict[str, LabelledMessage] = {}
    for row in rows:
        key = normalize(row.text)
        if key and key not in seen:
            seen[key] = row
    return list(seen.values())


def dedupe_pairs(rows: Iterable[ReplyPair]) -> list[ReplyPair]:
    """Drop blank pairs and repeats of a normalised (message, reply), keeping the first."""
    seen: dict[tuple[str, str], ReplyPair] = {}
    for row in rows:
        key = (normalize(row.message), normalize(row.reply))
        if all(key) and key not in seen:
            seen[key] = row
    return list(seen.values())


def _base_dir(data_dir: Path) -> Path:
    return data_dir / "base"


def _read_jsonl(path: Path) -> list[dict[str, object]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: unreadable bootstrapped data ({exc})") from exc


def load_base_messages(data_dir: Path) -> list[LabelledMessage]:
    """Return seed messages plus every bootstrapped message under ``data_dir``."""
    rows = load_seed_messages()
    for path in sorted(_base_dir(data_dir).glob("*.messages.jsonl")):
        rows += [LabelledMessage(str(r["text"]), int(str(r["label"]))) for r in _read_jsonl(path)]
    return dedupe_messages(rows)


def load_base_pairs(data_dir: Path) -> list[ReplyPair]:
    """Return seed pairs plus every bootstrapped pair under ``data_dir``."""
    rows = load_seed_pairs()
    for path in sorted(_base_dir(data_dir).glob("*.pairs.jsonl")):
        rows += [ReplyPair(str(r["message"]), str(r["reply"])) for r in _read_jsonl(path)]
    return dedupe_pairs(rows)


def save_bootstrapped(
    data_dir: Path, *, name: str, messages: Sequence[LabelledMessage], pairs: Sequence[ReplyPair]
) -> list[Path]:
    """Write a bootstrapped dataset under ``data_dir/base`` atomically; return the files written."""
    base = _base_dir(data_dir)
    base.mkdir(parents=True, exist_ok=True)
    written = []
    files: list[tuple[str, list[dict[str, object]]]] = [
        ("messages", [{"text": m.text, "label": m.label} for m in messages]),
        ("pairs", [{"message": p.message, "reply": p.reply} for p in pairs]),
    ]
    for kind, records in files:
        if records:
            text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
            written.append(write_atomic(base / f"{name}.{kind}.jsonl", text))
    return written


def fingerprint(items: Iterable[object]) -> str:
    """Return the sha256 of the items' reprs, one per line: a stable id for a training set."""
    digest = hashlib.sha256()
    for item in items:
        digest.update(repr(item).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()
