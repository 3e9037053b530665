"""Classifier SFT examples: confirmed and refuted flags, mixed with base data, balanced.

A flag whose net rating is positive keeps its label; a negative one flips it (a wrong
``sarcastic`` flag becomes ``not_sarcastic``); a net of zero says nothing and is skipped.
Feedback wins over base data with the same normalised text, and a later flag over an earlier.

>>> from tuning.records import Interaction
>>> flag = Interaction(id="i1", team="T", channel="C", ts="1.0", kind="classify",
...                    input_text="Oh great, more meetings", output="sarcastic", model_version="v1")
>>> built = build_classifier_examples([flag], {"i1": -2}, [])
>>> [(e.input, e.target) for e in built.items]
[('Oh great, more meetings', 'NOT_SARCASTIC')]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from tuning.datasets.examples import BaseRow, Built, Example, Skip, stable_hash
from tuning.prompts import LABEL_WORDS
from tuning.records import Interaction
from tuning.redaction import redact
from tuning.text import normalize

_FLIP = {"sarcastic": "not_sarcastic", "not_sarcastic": "sarcastic"}
_LABELS = {"sarcastic": "sarcastic", "not_sarcastic": "not_sarcastic"} | {
    word.lower(): label for label, word in LABEL_WORDS.items()
}


def parse_label(output: str) -> str | None:
    """Return the label a flag's output names (``sarcastic``/``SARCASTIC``...), or None."""
    return _LABELS.get(output.strip().lower())


def build_classifier_examples(
    interactions: Iterable[Interaction],
    ratings: Mapping[str, int],
    base: Sequence[BaseRow],
    *,
    balance: bool = True,
) -> Built[Example]:
    """Return labelled examples from rated flags plus ``base``, de-duplicated and balanced."""
    skips: list[Skip] = []
    chosen: dict[str, tuple[Example, bool]] = {}  # key -> (example, from feedback)
    unrated = 0
    for source, text, label, from_feedback in _candidates(interactions, ratings, base, skips):
        if from_feedback is None:
            unrated += 1
            continue
        text = redact(text).strip()
        key = normalize(text)
        if not key:
            skips.append(Skip(source, "empty text"))
            continue
        example = Example(key=key, input=text, target=LABEL_WORDS[label], source=source)
        previous = chosen.get(key)
        if previous is not None:
            old, old_from_feedback = previous
            if old_from_feedback and not from_feedback:
                skips.append(Skip(source, "duplicate", f"of {old.source}"))
                continue
            skips.append(Skip(old.source, "duplicate", f"replaced by {source}"))
        chosen[key] = (example, from_feedback)
    items = [example for example, _ in chosen.values()]
    feedback_sources = {e.source for e, fb in chosen.values() if fb}
    if balance:
        items = _balance(items, feedback_sources, skips)
    counts = {
        "unrated_interactions": unrated,
        "from_feedback": sum(1 for e in items if e.source in feedback_sources),
        "from_base": sum(1 for e in items if e.source not in feedback_sources),
        "sarcastic": sum(1 for e in items if e.target == LABEL_WORDS["sarcastic"]),
        "not_sarcastic": sum(1 for e in items if e.target == LABEL_WORDS["not_sarcastic"]),
    }
    return Built(items=tuple(items), skips=tuple(skips), counts=counts)


def _candidates(
    interactions: Iterable[Interaction],
    ratings: Mapping[str, int],
    base: Sequence[BaseRow],
    skips: list[Skip],
) -> Iterable[tuple[str, str, str, bool | None]]:
    """Yield (source, text, label, from_feedback) with base data first, so feedback wins."""
    for index, row in enumerate(base):
        label = parse_label(row.label)
        if label is None:
            skips.append(Skip(row.source or f"base:{index}", "unknown label", repr(row.label)[:40]))
            continue
        yield row.source or f"base:{index}", row.text, label, False
    for interaction in sorted(interactions, key=lambda i: i.created_at):
        if interaction.kind != "classify":
            continue
        source = f"interaction:{interaction.id}"
        net = ratings.get(interaction.id)
        if net is None:
            yield source, "", "", None
            continue
        flagged = parse_label(interaction.output)
        if flagged is None:
            skips.append(Skip(source, "unknown flag label", repr(interaction.output[:40])))
        elif net == 0:
            skips.append(Skip(source, "net rating 0", "confirmed and refuted equally"))
        else:
            yield source, interaction.input_text, flagged if net > 0 else _FLIP[flagged], True


def _balance(items: list[Example], feedback: set[str], skips: list[Skip]) -> list[Example]:
    """Drop examples of the larger class until both classes are the same size.

    Base examples go first, then feedback, each in hash order (the key), so the result is stable.
    """
    by_label: dict[str, list[Example]] = {}
    for example in items:
        by_label.setdefault(example.target, []).append(example)
    if len(by_label) < 2:
        return items
    size = min(len(group) for group in by_label.values())
    dropped: set[str] = set()
    for group in by_label.values():
        if len(group) > size:
            ordered = sorted(group, key=lambda e: (e.source not in feedback, stable_hash(e.key)))
            dropped.update(e.key for e in ordered[size:])
            skips.extend(Skip(e.source, "balance", "larger class trimmed") for e in ordered[size:])
    return [example for example in items if example.key not in dropped]
