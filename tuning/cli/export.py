"""``python -m tuning export``: write a tuning dataset (train, validation, stats) to a folder."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from tuning.cli.common import add_backend, add_task_method, print_json, progress
from tuning.config import Settings
from tuning.datasets.assemble import DatasetConfig
from tuning.lifecycle.service import LOCAL_MIN_TRAIN
from tuning.lifecycle.tracing import export_traced
from tuning.privacy.manifests import export_name
from tuning.store import open_store

HELP = (
    "Build a dataset from feedback and write train.jsonl, validation.jsonl (Vertex JSONL), "
    "feedback.jsonl (local-only human feedback) and stats.json; its manifest (the record ids it "
    "holds, no text) is stored as dataset:export-<folder name>."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the export options."""
    add_task_method(parser)
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    add_backend(parser)
    parser.add_argument(
        "--min-train", type=int, metavar="N", help="minimum training examples (default per backend)"
    )


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Export the dataset and print its counts."""
    backend = args.backend or settings.model_backend
    local = backend in ("local", "openai")
    minimum = LOCAL_MIN_TRAIN if local else settings.vertex.min_train_examples
    config = replace(DatasetConfig(), min_train=args.min_train or minimum)
    store = await open_store(settings.store_url, retention=settings.retention)
    try:
        with progress("reading interactions", total=None) as bar:
            files = await export_traced(
                store,
                name=export_name(args.out.resolve()),
                task=args.task,
                method=args.method,
                out=args.out,
                data_dir=settings.data_dir,
                config=config,
                progress=bar.update,
            )
    finally:
        await store.close()
    counts = files.stats["counts"]
    if args.json:
        print_json({"train": str(files.train), "validation": str(files.validation), **files.stats})
        return 0
    train, validation = counts["train"], counts["validation"]
    print(f"wrote {train} training and {validation} validation examples to {args.out}")
    for reason, count in counts["skipped_by_reason"].items():
        print(f"  skipped {count}: {reason}")
    return 0
