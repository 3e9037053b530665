"""``python -m tuning run``: launch one tuning job now, and optionally wait for its outcome.

Local jobs train in this process, so ``run`` always waits for them. A Vertex job keeps running
in Google Cloud after ``run`` returns; ``tick`` or the bot follows it up and reports it.
"""

from __future__ import annotations

import argparse

from tuning.cli.common import (
    add_backend,
    add_task_method,
    job_line,
    print_json,
    progress,
    tuning_context,
)
from tuning.config import Settings
from tuning.records import JobRecord

HELP = "Launch one tuning job now (--wait to follow it to the end)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the run options."""
    add_task_method(parser)
    add_backend(parser)
    parser.add_argument("--wait", action="store_true", help="wait until the job has ended")
    parser.add_argument(
        "--force",
        action="store_true",
        help="promote the result after evaluation even if not better",
    )


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Launch the job, follow it as far as asked, and print it."""
    with progress("tuning job") as bar:

        async def show(job: JobRecord) -> None:
            bar.set_description_str(f"{job.id} {job.state}")
            bar.update(1)

        async with tuning_context(settings, backend=args.backend, on_change=show) as ctx:
            job = await ctx.service.launch(
                task=args.task, method=args.method, backend=args.backend, force=args.force
            )
            if args.wait or job.backend == "local":
                job = await ctx.service.wait(job.id)
            else:
                job = await ctx.service.wait_launched(job.id)
    if args.json:
        print_json(job)
    else:
        print(job_line(job))
        if job.config.get("reward_check"):
            rewards = ", ".join(f"{r:+.3f}" for r in job.config["reward_check"])
            print(f"  reward dry run before launch: {rewards}")
        if job.metrics.get("decision"):
            print(f"  {job.metrics['decision']}")
    return 1 if job.state in ("FAILED", "EXPIRED") else 0
