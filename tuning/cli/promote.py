"""``python -m tuning promote``: make a registered version the active one (forced, audited)."""

from __future__ import annotations

import argparse

from tuning.cli.common import model_line, print_json
from tuning.config import Settings
from tuning.lifecycle.registry import BY_HAND, promote
from tuning.records import TASKS
from tuning.store import open_store

HELP = "Make a registered model version active; bot processes switch within 60 s."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the promote options."""
    parser.add_argument("--task", choices=TASKS, required=True)
    parser.add_argument("--version", required=True, help="the version to activate")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Promote the version and print it."""
    store = await open_store(settings.store_url, retention=settings.retention)
    try:
        model = await promote(
            store, task=args.task, version=args.version, actor="cli", reason=BY_HAND
        )
    finally:
        await store.close()
    print_json(model) if args.json else print(f"active: {model_line(model)}")
    return 0
