"""What an export hands a backend: the paths of one dataset's files and its stats."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuning.records import frozen_mapping


@dataclass(frozen=True)
class DatasetFiles:
    """An exported dataset: ``train.jsonl``, ``validation.jsonl`` and their ``stats.json``.

    ``feedback`` is the local-only ``feedback.jsonl`` (:mod:`tuning.datasets.feedback`), if any.
    """

    train: Path
    validation: Path
    stats: Mapping[str, Any] = field(default_factory=frozen_mapping)
    feedback: Path | None = None
