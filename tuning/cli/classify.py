"""``python -m tuning classify``: label texts with the active classifier, one JSON line each.

Input is one text per line (stdin or ``--in FILE``), or a CSV column with ``--text-col``.
A local classifier's ``label`` is ``sarcastic`` when ``probability`` reaches the decision
threshold stored with the model (``metrics["threshold"]``, chosen on its validation data; 0.5
for a model saved before thresholds were stored), not a fixed 0.5; a Vertex classifier's
``label`` is the label it answered. The whole input is checked before any model runs: an empty
text, a text over 4,000 characters, invalid UTF-8 or a missing column stops with one line naming
the place, and nothing is written."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from tqdm import tqdm

from tuning.config import Settings
from tuning.datasets.inputs import check_text, csv_rows, plain_lines, read_source
from tuning.files import write_atomic
from tuning.models.builders import ensure_active
from tuning.models.loader import load_classifier
from tuning.records import Prediction
from tuning.store import open_store

HELP = (
    "Label texts (one per line, or a CSV column) as sarcastic or not, as JSON lines; a local "
    "model's label is 'sarcastic' when the probability reaches its stored threshold."
)
BATCH = 2000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the classify options."""
    parser.add_argument("--in", dest="source", metavar="FILE", help="input file (default stdin)")
    parser.add_argument("--text-col", metavar="NAME", help="read a CSV and classify this column")
    parser.add_argument("--out", metavar="FILE", help="write the JSON lines here (atomically)")
    parser.add_argument(
        "--skip-empty", action="store_true", help="skip empty texts with a warning (default: error)"
    )


def read_texts(source: str | None, text_col: str | None, *, skip_empty: bool = False) -> list[str]:
    """Return the texts to classify, in input order, or raise DatasetError naming the problem."""
    name, text = read_source(source)
    column = text_col or "text"
    rows = csv_rows(text, source=name, columns=[column]) if text_col else plain_lines(text)
    if skip_empty:
        kept = [r for r in rows if r.fields[column].strip()]
        if len(kept) < len(rows):
            print(f"warning: {name}: skipped {len(rows) - len(kept)} empty texts", file=sys.stderr)
        rows = kept
    return [check_text(r.fields[column], source=name, line=r.line) for r in rows]


def to_json_line(prediction: Prediction) -> str:
    """Return one prediction as the JSON line the CLI prints."""
    record = {
        "text": prediction.text,
        "label": prediction.label,
        "probability": round(prediction.probability, 6),
    }
    return json.dumps(record, ensure_ascii=False) + "\n"


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Classify the input and write JSON lines to stdout or ``--out``."""
    texts = await asyncio.to_thread(
        read_texts, args.source, args.text_col, skip_empty=args.skip_empty
    )
    store = await open_store(settings.store_url, retention=settings.retention)
    try:
        active = await ensure_active(settings=settings, store=store, tasks=("classifier",))
    finally:
        await store.close()
    classifier = await asyncio.to_thread(load_classifier, active["classifier"], settings)
    predictions: list[Prediction] = []
    with tqdm(total=len(texts), unit="text", file=sys.stderr, disable=None) as bar:
        for start in range(0, len(texts), BATCH):
            batch = await classifier.classify(texts[start : start + BATCH])
            predictions += batch
            bar.update(len(batch))
    output = "".join(to_json_line(p) for p in predictions)
    sarcastic = sum(p.label == "sarcastic" for p in predictions)
    summary = {
        "count": len(predictions),
        "sarcastic": sarcastic,
        "model": classifier.version,
        "out": args.out,
    }
    if args.out:
        await asyncio.to_thread(write_atomic, Path(args.out), output)
        print(json.dumps(summary) if args.json else _describe(summary))
    else:
        try:
            sys.stdout.write(output)
            sys.stdout.flush()
        except BrokenPipeError:  # e.g. `| head`: the reader has all it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        print(_describe(summary), file=sys.stderr)
    return 0


def _describe(summary: dict[str, object]) -> str:
    where = f" to {summary['out']}" if summary["out"] else ""
    return (
        f"classified {summary['count']} texts{where} with {summary['model']} "
        f"({summary['sarcastic']} sarcastic)"
    )
