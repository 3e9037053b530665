"""``python -m tuning rollback``: reactivate the previously active version of a task."""

from __future__ import annotations

import argparse

from tuning.cli.common import model_line, print_json
from tuning.config import Settings
from tuning.lifecycle.registry import rollback
from tuning.records import TASKS
from tuning.store import open_store

HELP = "Reactivate the previous version of a model; bot processes switch within 60 s."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the rollback options."""
    parser.add_argument("--task", choices=TASKS, required=True)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Roll back and print the version that is active now."""
    store = await open_store(settings.store_url, retention=settings.retention)
    try:
        model = await rollback(store, task=args.task, actor="cli")
    finally:
        await store.close()
    print_json(model) if args.json else print(f"active: {model_line(model)}")
    return 0
