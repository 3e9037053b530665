"""``python -m tuning tick``: apply retention, follow up jobs, then launch whatever is due (once).

Meant for cron or Cloud Scheduler + a Cloud Run Job. Two ticks at once launch at most one job.
"""

from __future__ import annotations

import argparse
import uuid

from tuning.cli.common import job_line, print_json, progress, tuning_context
from tuning.config import Settings
from tuning.lifecycle.builder import build_privacy_service
from tuning.lifecycle.scheduler import policies_for, tick
from tuning.scoring.source import reward_auc

HELP = "Run the tuning scheduler once: launch a job if enough new feedback arrived."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the tick options."""
    parser.add_argument(
        "--wait", action="store_true", help="wait for a launched job to end (local jobs always do)"
    )


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Tick once and print what was decided."""
    with progress("tick") as bar:
        async with tuning_context(settings) as ctx:
            result = await tick(
                ctx.service,
                ctx.store,
                policies_for(settings),
                holder=f"cli-{uuid.uuid4().hex[:8]}",
                reward_auc=lambda: reward_auc(ctx.store, settings),
                privacy=build_privacy_service(settings, ctx.store),
            )
            job = result.launched
            if job is not None and (args.wait or job.backend == "local"):
                bar.set_description_str(f"{job.id}")
                job = await ctx.service.wait(job.id)
    if args.json:
        print_json({**vars_of(result), "launched": job})
        return 0
    if result.retention is not None and result.retention.records.total:
        print(*result.retention.lines(), sep="\n")
    for error in result.errors:
        print(f"error: {error}")
    for followed in result.followed:
        print(f"followed up: {job_line(followed)}")
    for verdict in result.verdicts:
        due = "due" if verdict.due else "not due"
        print(f"{verdict.policy.task} {verdict.policy.method}: {due} ({verdict.reason})")
    print(f"launched: {job_line(job)}" if job else result.note or "nothing launched")
    return 1 if job is not None and job.state == "FAILED" else 0


def vars_of(result: object) -> dict[str, object]:
    """Return a dataclass's fields as a dict (shallow)."""
    return {name: getattr(result, name) for name in getattr(result, "__dataclass_fields__", {})}
