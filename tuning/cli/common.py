"""Shared plumbing for the tuning-loop verbs: store, backends, service, output, progress."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tqdm import tqdm

from tuning.config import Settings
from tuning.evaluation.keys import primary_metric
from tuning.lifecycle.builder import build_tuning_service
from tuning.lifecycle.job_log import OnChange
from tuning.lifecycle.service import TuningService
from tuning.records import METHODS, TASKS, JobRecord, ModelVersion
from tuning.store import open_store
from tuning.store.base import Store


def add_task_method(parser: argparse.ArgumentParser, *, method_default: str | None = None) -> None:
    """Add --task and --method."""
    parser.add_argument("--task", choices=TASKS, required=True, help="which model to tune")
    parser.add_argument(
        "--method",
        choices=METHODS,
        required=method_default is None,
        default=method_default,
        help="sft (supervised) or preference (generator only)",
    )


def add_backend(parser: argparse.ArgumentParser) -> None:
    """Add --backend (default: MODEL_BACKEND)."""
    parser.add_argument(
        "--backend",
        choices=("local", "vertex", "openai"),
        help="where to tune (default: MODEL_BACKEND)",
    )


@dataclass
class Context:
    """What a verb works with: settings, an open store and the tuning service."""

    settings: Settings
    store: Store
    service: TuningService


@asynccontextmanager
async def tuning_context(
    settings: Settings, *, backend: str | None = None, on_change: OnChange | None = None
) -> AsyncIterator[Context]:
    """Open the store and build the service with the local backend and, if needed, Vertex."""
    store = await open_store(settings.store_url, retention=settings.retention)
    try:
        service = build_tuning_service(
            settings, store, backend=backend, on_change=on_change, strict=True
        )
        try:
            yield Context(settings=settings, store=store, service=service)
        finally:
            await service.close()
    finally:
        await store.close()


@contextmanager
def progress(description: str, total: int | None = None) -> Iterator[tqdm]:
    """Yield a progress bar on stderr that shows up only for steps longer than a second."""
    bar = tqdm(total=total, desc=description, file=sys.stderr, delay=1.0, leave=False)
    try:
        yield bar
    finally:
        bar.close()


def plain(value: Any) -> Any:
    """Return ``value`` as JSON-ready data (records, mappings, datetimes)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "__dataclass_fields__"):
        return {name: plain(getattr(value, name)) for name in value.__dataclass_fields__}
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    return value


def print_json(data: Any) -> None:
    """Print ``data`` as one JSON document on stdout."""
    print(json.dumps(plain(data), ensure_ascii=False, indent=1, default=str))


def job_line(job: JobRecord) -> str:
    """Return a one-line summary of a job."""
    parts = [f"{job.id}  {job.task} {job.method} on {job.backend}  {job.state}"]
    if job.outcome and job.state != "FAILED":
        parts.append(f"({job.outcome} {job.candidate_version})")
    if job.error:
        parts.append(f"error: {job.error}")
    return "  ".join(parts)


def model_line(model: ModelVersion) -> str:
    """Return a one-line summary of a model version."""
    primary = primary_metric(model)
    metric = f"  {primary[0]} {primary[1]:.3f}" if primary else ""
    return f"{model.task:<10} {model.version}  {model.backend}  {model.state}{metric}"
