"""``python -m tuning evaluate``: measure a version against the active one (no promotion)."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from tuning.cli.common import add_task_method, print_json, progress
from tuning.config import Settings
from tuning.datasets.assemble import DatasetConfig
from tuning.datasets.export import export_dataset
from tuning.errors import NotFoundError
from tuning.evaluation.comparison import ModelEvaluator, evidence_of
from tuning.evaluation.decision import Rule, decide
from tuning.evaluation.keys import HUMAN_FEEDBACK, finite
from tuning.store import open_store

HELP = "Evaluate a model version against the active one on today's validation split."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the evaluate options."""
    add_task_method(parser, method_default="sft")
    parser.add_argument("--version", help="version to evaluate (default: the newest candidate)")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Export a fresh validation split, compare both models on it and print the metrics."""
    store = await open_store(settings.store_url, retention=settings.retention)
    try:
        models = await store.list_models(task=args.task)
        if args.version:
            model = next((m for m in models if m.version == args.version), None)
        else:
            model = next((m for m in models if m.state == "candidate"), None)
        if model is None:
            raise NotFoundError(f"no {args.task} version {args.version or 'candidate'} to evaluate")
        active = await store.active_model(task=args.task)
        with tempfile.TemporaryDirectory() as tmp, progress("evaluating"):
            files = await export_dataset(
                store,
                task=args.task,
                method=args.method,
                out=Path(tmp),
                data_dir=settings.data_dir,
                config=DatasetConfig(min_train=1),
            )
            comparison = await ModelEvaluator(settings=settings, store=store).compare(
                task=args.task,
                method=args.method,
                candidate=model,
                active=active if active and active.version != model.version else None,
                validation=files.validation,
            )
    finally:
        await store.close()
    evidence = evidence_of(
        args.task,
        comparison,
        candidate_feedback=int(finite(model.metrics).get(HUMAN_FEEDBACK, 0)),
        active=active,
    )
    decision = decide(
        evidence,
        has_active=comparison.active is not None,
        rule=Rule(tolerance=settings.promotion_margin),
    )
    result = {
        "version": model.version,
        "active_version": active.version if active else None,
        "key": comparison.key,
        "candidate": comparison.candidate,
        "active": comparison.active,
        "would_promote": decision.promote,
        "decided_by": evidence.metric,
        "interval": finite(comparison.interval.as_dict()),
        "decision": decision.reason,
    }
    if args.json:
        print_json(result)
        return 0
    print(f"{model.version} vs {result['active_version'] or 'nothing active'}:")
    for name, value in comparison.candidate.items():
        theirs = comparison.active.get(name) if comparison.active else None
        versus = f"   active {theirs:.3f}" if theirs is not None else ""
        print(f"  {name:<20} {value:.3f}{versus}")
    print(f"  {decision.reason} -> {'would promote' if decision.promote else 'would keep'}")
    return 0
