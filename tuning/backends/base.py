"""The interface every tuning backend implements: start a job, watch it, cancel it, close.

A backend turns an exported dataset into a candidate model. The job lifecycle (recording states,
evaluation, promotion) lives in ``tuning.lifecycle.service`` and is the same for every backend.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tuning.datasets.files import DatasetFiles
from tuning.records import JobRecord, JobState, Method, ModelVersion, Task, frozen_mapping


@dataclass(frozen=True)
class RemoteStatus:
    """Where a backend's job stands; ``artifact`` is set once it has SUCCEEDED.

    ``artifact`` is a local model path or a Vertex endpoint resource name.
    """

    state: JobState
    error: str | None = None
    artifact: str | None = None
    detail: Mapping[str, Any] = field(default_factory=frozen_mapping)


class TuningBackend(abc.ABC):
    """Run tuning jobs somewhere: on this machine, or on Vertex AI."""

    name: str

    @abc.abstractmethod
    async def start(
        self, *, job: JobRecord, dataset: DatasetFiles, base: ModelVersion | None
    ) -> str:
        """Launch ``job`` on ``dataset``, continuing from ``base``; return its remote name."""

    @abc.abstractmethod
    async def status(self, *, job: JobRecord) -> RemoteStatus:
        """Return the current state of a launched job."""

    @abc.abstractmethod
    async def cancel(self, *, job: JobRecord) -> None:
        """Ask the backend to cancel a launched job; a job that already ended is left alone."""

    def refuses(self, *, task: Task, method: Method) -> str | None:
        """Return one line saying why this backend cannot run ``method``, or None if it can."""
        return None

    async def preflight(self, *, job: JobRecord, dataset: DatasetFiles) -> Mapping[str, Any]:
        """Check what can be checked before a job costs anything; return findings to record.

        Raise a SarcasmError to stop the job; most backends have nothing to check.
        """
        return {}

    async def aclose(self) -> None:  # noqa: B027 -- optional hook: most backends hold nothing
        """Release the backend's connections; jobs it launched keep running where they run."""
