"""``python -m tuning jobs``: list recent tuning jobs, or show one with its full history."""

from __future__ import annotations

import argparse

from tuning.cli.common import job_line, print_json, tuning_context
from tuning.config import Settings
from tuning.errors import NotFoundError
from tuning.records import TASKS, JobRecord
from tuning.store import open_store

HELP = "List recent tuning jobs, show one (states, dataset, metrics, error), or cancel one."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the jobs options."""
    parser.add_argument("job_id", nargs="?", help="show this job in full")
    parser.add_argument("--limit", type=int, default=10, help="how many jobs to list (default 10)")
    parser.add_argument("--task", choices=TASKS, help="only jobs of this task")
    parser.add_argument("--cancel", action="store_true", help="cancel JOB_ID if it has not ended")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Print the jobs (or cancel one)."""
    if args.cancel:
        return await _cancel(args, settings)
    store = await open_store(settings.store_url, retention=settings.retention)
    try:
        if args.job_id:
            job = await store.get_job(args.job_id)
            if job is None:
                raise NotFoundError(f"no tuning job {args.job_id}")
            jobs = [job]
        else:
            jobs = await store.list_jobs(limit=args.limit, task=args.task)
    finally:
        await store.close()
    if args.json:
        print_json(jobs[0] if args.job_id else jobs)
        return 0
    if not jobs:
        print("no tuning jobs yet")
    for job in jobs:
        print(job_line(job))
        if args.job_id:
            _print_detail(job)
    return 0


async def _cancel(args: argparse.Namespace, settings: Settings) -> int:
    if not args.job_id:
        raise NotFoundError("--cancel needs a JOB_ID")
    async with tuning_context(settings) as ctx:
        cancelled = await ctx.service.cancel(args.job_id)
    print_json(cancelled) if args.json else print(job_line(cancelled))
    return 0


def _print_detail(job: JobRecord) -> None:
    for change in job.history:
        print(f"  {change.at:%Y-%m-%d %H:%M:%S} {change.state}")
    counts = job.dataset_stats.get("counts", {})
    if counts:
        print(f"  dataset: {counts.get('train')} train, {counts.get('validation')} validation")
    if job.metrics.get("decision"):
        print(f"  {job.metrics['decision']}")
