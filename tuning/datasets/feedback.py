"""The human feedback behind a dataset, per split: the local-only ``feedback.jsonl``.

Vertex JSONL lines hold only what Vertex accepts, so what the local models and evaluation need
besides travels in this file next to them (never uploaded):

- ``rating``: every rated reply, 👍 (net rating > 0) or 👎 (< 0), keyed by the prompt that
  started it: the reward model's unpaired ratings, and held-out ratings for evaluation;
- ``pair``: every human preference of the preference dataset (rated pairs and corrections);
- ``label``: every channel-feedback example of the classifier dataset, with its channel: the
  calibration rows, and held-out channel labels judged at the channel's threshold.

Each row lands in the split its key gives (:func:`~tuning.datasets.examples.split_of`), the
same as the dataset line made from it, so a held-out prompt's ratings are held out too.

>>> from tuning.records import Interaction
>>> reply = Interaction(id="a", team="T", channel="C", ts="1", kind="generate",
...                     input_text="is the build green?", output="Define green.", model_version="v")
>>> rows = rated_replies([reply], {"a": -1}, validation_fraction=0.1)
>>> [(row.split, row.prompt, row.reply, row.liked) for row in rows]
[('train', 'is the build green?', 'Define green.', False)]
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tuning.datasets.examples import Built, Example, PreferencePair, Split, split_of
from tuning.datasets.generator import replies_of, root_of
from tuning.errors import DatasetError
from tuning.prompts import LABEL_WORDS
from tuning.records import Interaction
from tuning.redaction import redact
from tuning.text import normalize

FILE = "feedback.jsonl"


@dataclass(frozen=True)
class RatedReply:
    """A reply people rated: ``liked`` for a net 👍, not for a net 👎."""

    split: Split
    prompt: str
    reply: str
    liked: bool


@dataclass(frozen=True)
class HumanPair:
    """A human preference: ``chosen`` over ``rejected`` for ``prompt``."""

    split: Split
    prompt: str
    chosen: str
    rejected: str


@dataclass(frozen=True)
class ChannelLabel:
    """A channel message people labelled (``sarcastic`` or not), and its channel."""

    split: Split
    text: str
    sarcastic: bool
    channel: str


@dataclass(frozen=True)
class HumanFeedback:
    """The feedback rows of one split."""

    ratings: tuple[RatedReply, ...] = ()
    pairs: tuple[HumanPair, ...] = ()
    labels: tuple[ChannelLabel, ...] = ()

    @property
    def size(self) -> int:
        """Return how many rows there are in all."""
        return len(self.ratings) + len(self.pairs) + len(self.labels)


Row = RatedReply | HumanPair | ChannelLabel
_TYPES: dict[str, type[RatedReply] | type[HumanPair] | type[ChannelLabel]] = {
    "rating": RatedReply,
    "pair": HumanPair,
    "label": ChannelLabel,
}
_NAMES = {kind: name for name, kind in _TYPES.items()}


def rated_replies(
    interactions: Iterable[Interaction], ratings: Mapping[str, int], *, validation_fraction: float
) -> list[RatedReply]:
    """Return one row per rated reply text of each prompt (a net of 0 says nothing)."""
    replies = list(replies_of(interactions))
    by_id = {interaction.id: interaction for interaction in replies}
    net: dict[tuple[str, str], int] = {}
    texts: dict[tuple[str, str], tuple[str, str]] = {}
    for interaction in replies:
        if interaction.id not in ratings:
            continue
        prompt = redact(root_of(interaction, by_id).input_text).strip()
        reply = redact(interaction.output).strip()
        key = (normalize(prompt), normalize(reply))
        if all(key):
            net[key] = net.get(key, 0) + ratings[interaction.id]
            texts.setdefault(key, (prompt, reply))
    return [
        RatedReply(
            split_of(key[0], validation_fraction=validation_fraction), *texts[key], total > 0
        )
        for key, total in net.items()
        if total
    ]


def human_pairs(built: Built[PreferencePair], *, validation_fraction: float) -> list[HumanPair]:
    """Return the rows of a preference dataset's pairs."""
    return [
        HumanPair(
            split_of(p.key, validation_fraction=validation_fraction), p.prompt, p.chosen, p.rejected
        )
        for p in built.items
    ]


def channel_labels(
    built: Built[Example], interactions: Iterable[Interaction], *, validation_fraction: float
) -> list[ChannelLabel]:
    """Return the rows of the classifier examples that came from channel feedback."""
    channels = {f"interaction:{i.id}": i.channel for i in interactions if i.kind == "classify"}
    sarcastic = LABEL_WORDS["sarcastic"]
    return [
        ChannelLabel(
            split_of(example.key, validation_fraction=validation_fraction),
            example.input,
            example.target == sarcastic,
            channels[example.source],
        )
        for example in built.items
        if example.source in channels
    ]


def to_lines(rows: Sequence[Row]) -> tuple[str, ...]:
    """Return one JSON line per row, tagged with its type."""
    return tuple(
        json.dumps({"type": _NAMES[type(row)], **asdict(row)}, ensure_ascii=False) for row in rows
    )


def read_feedback(path: Path, *, split: Split) -> HumanFeedback:
    """Return the rows of ``split`` in a feedback file; no file means no feedback.

    Raise DatasetError naming the first line that is not a feedback row.
    """
    if not path.is_file():
        return HumanFeedback()
    rows: dict[str, list[Any]] = {name: [] for name in _TYPES}
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
            name = record.pop("type")
            row = _TYPES[name](**record)
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise DatasetError(f"{path}:{number}: not a feedback row ({exc})") from exc
        if row.split == split:
            rows[name].append(row)
    return HumanFeedback(
        ratings=tuple(rows["rating"]), pairs=tuple(rows["pair"]), labels=tuple(rows["label"])
    )
