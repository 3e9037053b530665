"""Turn built examples into validated JSONL lines, split and checked against Vertex's limits.

Pure: examples in, a :class:`Dataset` (lines and stats) out; nothing is written here.

>>> from tuning.datasets.examples import Built, Example
>>> items = tuple(Example(key=f"k{i}", input=f"text {i}", target="SARCASTIC", source=f"s{i}")
...               for i in range(30))
>>> data = assemble("classifier", "sft", Built(items=items), DatasetConfig(min_train=10))
>>> (len(data.train), len(data.validation), data.stats["counts"]["skipped"])
(29, 1, 0)
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from tuning.datasets.examples import (
    VALIDATION_FRACTION,
    Built,
    Example,
    PreferencePair,
    Skip,
    stable_hash,
)
from tuning.datasets.formats import (
    preference_line,
    reinforcement_line,
    sft_line,
    validate_preference,
    validate_reinforcement,
    validate_sft,
)
from tuning.datasets.reinforcement import PREFERRED_REPLY
from tuning.errors import DatasetError
from tuning.prompts import CLASSIFIER_SYSTEM_PROMPT, GENERATOR_SYSTEM_PROMPT
from tuning.records import GENERATOR_ONLY, Method, Task, frozen_mapping

# Vertex AI limits for Gemini tuning datasets.
MAX_VALIDATION_EXAMPLES = 5000
MAX_FILE_BYTES = 1_000_000_000
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # one, not one per line
SYSTEM_PROMPTS = {"classifier": CLASSIFIER_SYSTEM_PROMPT, "generator": GENERATOR_SYSTEM_PROMPT}


@dataclass(frozen=True)
class DatasetConfig:
    """How datasets are split and checked; the defaults suit Vertex AI tuning."""

    validation_fraction: float = VALIDATION_FRACTION  # share of keys hashed into validation
    min_train: int = 100  # fewer training examples than this is an error (Vertex SFT minimum)
    # Fewer held-out examples is an error. 0 by default: too little held-out feedback is for
    # the promotion rule to say ("not enough held-out feedback yet"), not a failed job.
    min_validation: int = 0
    max_validation: int = MAX_VALIDATION_EXAMPLES
    max_file_bytes: int = MAX_FILE_BYTES
    max_pairs_per_prompt: int = 10
    balance: bool = True  # classifier: trim the larger class to the size of the smaller

    def __post_init__(self) -> None:
        if not 0.0 < self.validation_fraction < 1.0:
            raise ValueError("validation_fraction must be between 0 and 1")
        if self.min_train < 1 or self.min_validation < 0 or self.max_pairs_per_prompt < 1:
            raise ValueError("min_train and max_pairs_per_prompt must be positive")
        if not 0 < self.max_validation <= MAX_VALIDATION_EXAMPLES:
            raise ValueError(f"max_validation must be 1..{MAX_VALIDATION_EXAMPLES}")


@dataclass(frozen=True)
class Dataset:
    """Validated JSONL lines per split, and the stats that explain them."""

    task: Task
    method: Method
    train: tuple[str, ...]
    validation: tuple[str, ...]
    stats: Mapping[str, Any] = field(default_factory=frozen_mapping)
    feedback: tuple[str, ...] = ()  # feedback.jsonl lines (local-only, see datasets.feedback)


def assemble(
    task: Task, method: Method, built: Built[Example] | Built[PreferencePair], config: DatasetConfig
) -> Dataset:
    """Format, validate and split ``built``; raise DatasetError when the result is too small."""
    to_line, validate = _format(task, method)
    skips = list(built.skips)
    splits: dict[str, list[tuple[float, str, str]]] = {"train": [], "validation": []}
    for item in built.items:
        line = to_line(item)
        problems = validate(line)
        if problems:
            skips.append(Skip(item.source, "invalid line", "; ".join(problems)))
            continue
        text = _ENCODER.encode(line)
        position = stable_hash(item.key)
        split = "validation" if position < config.validation_fraction else "train"
        splits[split].append((position, item.source, text))
    # Over the cap, drop (never move) validation examples: the lowest hashes are kept. This is
    # the same rule as examples.split_of, inlined to hash each key once.
    splits["validation"].sort()
    for _, source, _ in splits["validation"][config.max_validation :]:
        skips.append(Skip(source, "validation cap", f"over {config.max_validation}"))
    del splits["validation"][config.max_validation :]
    train = tuple(text for _, _, text in splits["train"])
    validation = tuple(text for _, _, text in splits["validation"])
    stats = _stats(task, method, built, config, train, validation, skips)
    _check(task, method, config, stats)
    return Dataset(task=task, method=method, train=train, validation=validation, stats=stats)


def _format(task: Task, method: Method) -> tuple[Callable[[Any], Any], Callable[[Any], list[str]]]:
    if method in GENERATOR_ONLY and task != "generator":
        raise DatasetError(f"{method} tuning applies to the generator only")
    if method == "reinforcement":

        def prompt_line(example: Example) -> Any:
            references = {PREFERRED_REPLY: example.target} if example.target else None
            return reinforcement_line(GENERATOR_SYSTEM_PROMPT, example.input, references)

        return prompt_line, validate_reinforcement
    if method == "preference":

        def pair_line(pair: PreferencePair) -> Any:
            return preference_line(
                pair.prompt, pair.chosen, pair.rejected, system=GENERATOR_SYSTEM_PROMPT
            )

        return pair_line, validate_preference
    system = SYSTEM_PROMPTS[task]

    def example_line(example: Example) -> Any:
        return sft_line(system, example.input, example.target)

    return example_line, validate_sft


def _stats(
    task: Task,
    method: Method,
    built: Built[Example] | Built[PreferencePair],
    config: DatasetConfig,
    train: tuple[str, ...],
    validation: tuple[str, ...],
    skips: list[Skip],
) -> dict[str, Any]:
    sizes = {
        name: sum(len(line.encode()) + 1 for line in lines)
        for name, lines in (("train", train), ("validation", validation))
    }
    return {
        "task": task,
        "method": method,
        "config": asdict(config),
        "counts": {
            "train": len(train),
            "validation": len(validation),
            "skipped": len(skips),
            "skipped_by_reason": dict(Counter(skip.reason for skip in skips).most_common()),
            **dict(built.counts),
        },
        "bytes": sizes,
        "skips": [asdict(skip) for skip in skips],
    }


def _check(task: Task, method: Method, config: DatasetConfig, stats: Mapping[str, Any]) -> None:
    counts, sizes = stats["counts"], stats["bytes"]
    what = f"{task} {method} dataset"
    reasons = ", ".join(f"{n} {r}" for r, n in counts["skipped_by_reason"].items()) or "none"
    if counts["train"] < config.min_train:
        raise DatasetError(
            f"{what} too small: {counts['train']} training examples, need at least "
            f"{config.min_train} (skipped: {reasons})"
        )
    if counts["validation"] < config.min_validation:
        raise DatasetError(
            f"{what} has {counts['validation']} validation examples, need at least "
            f"{config.min_validation}"
        )
    for name, size in sizes.items():
        if size >= config.max_file_bytes:
            raise DatasetError(f"{what}: {name}.jsonl would be {size:,} bytes, over the limit")
