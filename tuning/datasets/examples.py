"""The value types dataset builders pass around, and the rules they share.

>>> split_of("oh great, another monday", validation_fraction=0.1)
'train'
>>> text_split("  Oh GREAT,   another  Monday ")
'train'
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from tuning.records import frozen_mapping
from tuning.redaction import redact
from tuning.text import normalize

Split = Literal["train", "validation"]
VALIDATION_FRACTION = 0.1  # the default share of keys hashed into validation


@dataclass(frozen=True)
class BaseRow:
    """A base-data message as the classifier builder takes it: label word and where it came from.

    Made from a :class:`~tuning.datasets.basedata.LabelledMessage` (label 1/0) by ``export``.
    """

    text: str
    label: str  # "sarcastic" or "not_sarcastic"
    source: str


@dataclass(frozen=True)
class Example:
    """One SFT example: ``input`` should be answered with ``target``.

    ``key`` is the normalised text that decides the split and de-duplication.
    """

    key: str
    input: str
    target: str
    source: str


@dataclass(frozen=True)
class PreferencePair:
    """One human preference: ``chosen`` was rated above ``rejected`` for ``prompt``."""

    key: str
    prompt: str
    chosen: str
    rejected: str
    source: str
    margin: int


@dataclass(frozen=True)
class Skip:
    """A record left out of a dataset, and why."""

    source: str
    reason: str
    detail: str = ""


Item = TypeVar("Item", Example, PreferencePair)


@dataclass(frozen=True)
class Built(Generic[Item]):
    """What a builder produced: the items, what it skipped, and its counts."""

    items: tuple[Item, ...]
    skips: tuple[Skip, ...] = ()
    counts: Mapping[str, Any] = field(default_factory=frozen_mapping)


def stable_hash(key: str) -> float:
    """Return a number in [0, 1) fixed by ``key`` alone (the same in every process and run)."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def split_of(key: str, *, validation_fraction: float) -> Split:
    """Return the split of an example from a hash of its key, so it never moves between splits."""
    return "validation" if stable_hash(key) < validation_fraction else "train"


def text_split(text: str, *, validation_fraction: float = VALIDATION_FRACTION) -> Split:
    """Return the split a raw message or prompt lands in, keyed as the builders key it.

    Models trained outside a dataset (the bootstrapped ones) keep to the train split with this,
    so no model has seen the validation split it is scored on.
    """
    return split_of(normalize(redact(text).strip()), validation_fraction=validation_fraction)
