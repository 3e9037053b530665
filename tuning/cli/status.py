"""``python -m tuning status``: active models, unfinished jobs and the latest job of each task."""

from __future__ import annotations

import argparse

from tuning.cli.common import job_line, model_line, print_json
from tuning.config import Settings
from tuning.records import TASKS
from tuning.store import open_store

HELP = "Show the active models, running jobs and the last job of each task (with its error)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Status takes no options beyond --json."""


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Print the state of the tuning loop."""
    store = await open_store(settings.store_url, retention=settings.retention)
    try:
        active = {task: await store.active_model(task=task) for task in TASKS}
        running = await store.running_jobs()
        last = {task: next(iter(await store.list_jobs(limit=1, task=task)), None) for task in TASKS}
    finally:
        await store.close()
    if args.json:
        print_json({"active": active, "running": running, "last_job": last})
        return 0
    print("active models:")
    for task, model in active.items():
        print(f"  {model_line(model)}" if model else f"  {task:<10} none")
    print("running jobs:" if running else "running jobs: none")
    for job in running:
        print(f"  {job_line(job)}")
    print("last jobs:")
    for task, latest in last.items():
        print(f"  {job_line(latest)}" if latest else f"  {task:<10} none yet")
    return 0
