"""Generator examples: approved replies for SFT, and human preferences between replies.

**SFT.** A reply whose net rating (sum of unretracted ratings) is positive becomes a
prompt/reply example.

**Preference pairs** never invent a preference. Replies belong to the same prompt when they
were answered for the same normalised prompt text, following "try again" retries
(``Interaction.parent_id``) back to the message that started them. Only replies that someone
rated count; the same reply text is counted once with its ratings summed. Every two replies
of a prompt whose net ratings differ make a pair, the higher-rated one chosen, largest rating
gap first, at most ``max_pairs_per_prompt`` per prompt. Unrated candidates are never used.

**Corrections** (a better reply a person wrote after a 👎) are a human's own preference, so they
satisfy the pair rule: each is an SFT example (the reply's prompt answered with the correction)
and a pair preferring the correction over the bot reply it corrects, rated or not.

>>> from tuning.records import Correction, Interaction
>>> def reply(id, text, parent=None):
...     return Interaction(id=id, team="T", channel="C", ts=id, kind="generate",
...                        input_text="is the build green?", output=text, model_version="v1",
...                        parent_id=parent)
>>> built = build_preference_pairs([reply("a", "Always."), reply("b", "Define green.", "a")],
...                                {"a": -1, "b": 2})
>>> [(p.chosen, p.rejected, p.margin) for p in built.items]
[('Define green.', 'Always.', 3)]
>>> from tuning.records import Correction
>>> fix = Correction(interaction_id="a", user="U2", text="Green is a state of mind.")
>>> built = build_preference_pairs([reply("a", "Always.")], {}, corrections=[fix])
>>> [(p.chosen, p.rejected, p.source) for p in built.items]
[('Green is a state of mind.', 'Always.', 'correction:a:U2>interaction:a')]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import combinations

from tuning.datasets.examples import Built, Example, PreferencePair, Skip
from tuning.records import Correction, Interaction
from tuning.redaction import redact
from tuning.text import normalize


def build_generator_examples(
    interactions: Iterable[Interaction],
    ratings: Mapping[str, int],
    *,
    corrections: Sequence[Correction] = (),
) -> Built[Example]:
    """Return prompt/reply examples from replies with a net positive rating, and corrections."""
    skips: list[Skip] = []
    chosen: dict[tuple[str, str], Example] = {}
    unrated = 0
    replies = list(replies_of(interactions))
    for interaction in replies:
        source = f"interaction:{interaction.id}"
        net = ratings.get(interaction.id)
        if net is None:
            unrated += 1
            continue
        if net <= 0:
            skips.append(Skip(source, "not approved", f"net rating {net}"))
            continue
        prompt, reply = redact(interaction.input_text).strip(), redact(interaction.output).strip()
        key, reply_key = normalize(prompt), normalize(reply)
        if not key or not reply_key:
            skips.append(Skip(source, "empty text"))
            continue
        if (key, reply_key) in chosen:
            skips.append(Skip(source, "duplicate", f"of {chosen[key, reply_key].source}"))
            continue
        chosen[key, reply_key] = Example(key=key, input=prompt, target=reply, source=source)
    by_id = {interaction.id: interaction for interaction in replies}
    for correction, corrected in _corrected(corrections, by_id, skips):
        prompt, better = redact(corrected.input_text).strip(), redact(correction.text).strip()
        key, better_key = normalize(prompt), normalize(better)
        source = _correction_source(correction)
        if (key, better_key) in chosen:
            skips.append(Skip(source, "duplicate", f"of {chosen[key, better_key].source}"))
            continue
        chosen[key, better_key] = Example(key=key, input=prompt, target=better, source=source)
    items = tuple(chosen.values())
    counts = {
        "unrated_interactions": unrated,
        "corrections": sum(1 for e in items if e.source.startswith("correction:")),
    }
    return Built(items=items, skips=tuple(skips), counts=counts)


def build_preference_pairs(
    interactions: Iterable[Interaction],
    ratings: Mapping[str, int],
    *,
    max_pairs_per_prompt: int = 10,
    corrections: Sequence[Correction] = (),
) -> Built[PreferencePair]:
    """Return pairs of rated replies to the same prompt whose net ratings differ, and corrections.

    Correction pairs come on top of ``max_pairs_per_prompt``: each is a person's explicit choice.
    """
    replies = list(replies_of(interactions))
    by_id = {interaction.id: interaction for interaction in replies}
    groups: dict[str, dict[str, list[Interaction]]] = {}  # prompt key -> reply key -> replies
    prompts: dict[str, str] = {}
    skips: list[Skip] = []
    unrated = 0
    for interaction in replies:
        if interaction.id not in ratings:
            unrated += 1
            continue
        prompt = redact(root_of(interaction, by_id).input_text).strip()
        reply_key = normalize(redact(interaction.output))
        key = normalize(prompt)
        if not key or not reply_key:
            skips.append(Skip(f"interaction:{interaction.id}", "empty text"))
            continue
        prompts.setdefault(key, prompt)
        groups.setdefault(key, {}).setdefault(reply_key, []).append(interaction)
    pairs: list[PreferencePair] = []
    for key, group in groups.items():
        pairs.extend(_pairs_of(key, prompts[key], group, ratings, max_pairs_per_prompt, skips))
    before = len(pairs)
    pairs.extend(_correction_pairs(corrections, by_id, skips))
    counts = {
        "unrated_interactions": unrated,
        "prompts": len(groups),
        "corrections": len(pairs) - before,
    }
    return Built(items=tuple(pairs), skips=tuple(skips), counts=counts)


def _correction_pairs(
    corrections: Sequence[Correction], by_id: Mapping[str, Interaction], skips: list[Skip]
) -> list[PreferencePair]:
    pairs: dict[tuple[str, str, str], PreferencePair] = {}
    for correction, corrected in _corrected(corrections, by_id, skips):
        prompt = redact(root_of(corrected, by_id).input_text).strip()
        better, worse = redact(correction.text).strip(), redact(corrected.output).strip()
        source = f"{_correction_source(correction)}>interaction:{corrected.id}"
        keys = (normalize(prompt), normalize(better), normalize(worse))
        if not all(keys):
            skips.append(Skip(source, "empty text"))
        elif keys[1] == keys[2]:
            skips.append(Skip(source, "no preference", "the correction repeats the reply"))
        elif keys in pairs:
            skips.append(Skip(source, "duplicate", f"of {pairs[keys].source}"))
        else:
            pairs[keys] = PreferencePair(
                key=keys[0], prompt=prompt, chosen=better, rejected=worse, source=source, margin=1
            )
    return list(pairs.values())


def _corrected(
    corrections: Sequence[Correction], by_id: Mapping[str, Interaction], skips: list[Skip]
) -> Iterable[tuple[Correction, Interaction]]:
    """Yield each correction with the bot reply it corrects (skipping unknown replies)."""
    for correction in sorted(corrections, key=lambda c: (c.created_at, c.interaction_id, c.user)):
        corrected = by_id.get(correction.interaction_id)
        if corrected is None:
            skips.append(Skip(_correction_source(correction), "unknown reply"))
            continue
        yield correction, corrected


def _correction_source(correction: Correction) -> str:
    return f"correction:{correction.interaction_id}:{correction.user}"


def _pairs_of(
    key: str,
    prompt: str,
    group: Mapping[str, list[Interaction]],
    ratings: Mapping[str, int],
    limit: int,
    skips: list[Skip],
) -> list[PreferencePair]:
    rated = sorted(
        ((sum(ratings[i.id] for i in same), reply_key, same) for reply_key, same in group.items()),
        key=lambda entry: (-entry[0], entry[1]),
    )
    candidates = [
        (high[0] - low[0], high, low) for high, low in combinations(rated, 2) if high[0] > low[0]
    ]
    candidates.sort(key=lambda c: (-c[0], c[1][1], c[2][1]))
    sources = [f"interaction:{i.id}" for _, _, same in rated for i in same]
    if not candidates:
        reason = "only one rated reply" if len(rated) == 1 else "all replies rated the same"
        skips.extend(Skip(source, "no preference", reason) for source in sources)
        return []
    for _, high, low in candidates[limit:]:
        skips.append(Skip(_source(high, low), "too many pairs", f"over {limit} for this prompt"))
    return [
        PreferencePair(
            key=key,
            prompt=prompt,
            chosen=redact(high[2][0].output).strip(),
            rejected=redact(low[2][0].output).strip(),
            source=_source(high, low),
            margin=margin,
        )
        for margin, high, low in candidates[:limit]
    ]


def _source(
    high: tuple[int, str, list[Interaction]], low: tuple[int, str, list[Interaction]]
) -> str:
    return f"interaction:{high[2][0].id}>interaction:{low[2][0].id}"


def replies_of(interactions: Iterable[Interaction]) -> Iterable[Interaction]:
    """Return the generator replies among ``interactions``, oldest first."""
    return sorted((i for i in interactions if i.kind == "generate"), key=lambda i: i.created_at)


def lineage(interaction: Interaction, by_id: Mapping[str, Interaction]) -> Iterator[Interaction]:
    """Yield ``interaction``, then each reply it retried back to the first (``parent_id``).

    It stops at a gap (a parent not in ``by_id``) or a cycle.
    """
    seen = {interaction.id}
    yield interaction
    while interaction.parent_id and interaction.parent_id in by_id:
        interaction = by_id[interaction.parent_id]
        if interaction.id in seen:
            return
        seen.add(interaction.id)
        yield interaction


def root_of(interaction: Interaction, by_id: Mapping[str, Interaction]) -> Interaction:
    """Follow ``parent_id`` back to the first reply (stopping at a gap or a cycle)."""
    *_, root = lineage(interaction, by_id)
    return root
