"""Datasets: base data, input files, pure builders, Vertex JSONL formats, validation and export.

Builders (``classifier``, ``generator``) and ``assemble`` are pure: records in, records out.
``export`` reads the store and writes the files.
"""

from tuning.datasets.assemble import Dataset, DatasetConfig, assemble
from tuning.datasets.examples import BaseRow, Built, Example, PreferencePair, Skip
from tuning.datasets.formats import (
    preference_line,
    read_jsonl,
    sft_line,
    validate_preference,
    validate_sft,
)

__all__ = [
    "BaseRow",
    "Built",
    "Dataset",
    "DatasetConfig",
    "Example",
    "PreferencePair",
    "Skip",
    "assemble",
    "preference_line",
    "read_jsonl",
    "sft_line",
    "validate_preference",
    "validate_sft",
]
