"""Generator examples: approved replies for SFT, and human preferences between replies.

**SFT.** A reply whose net rating (sum of unretracted ratings) is positive becomes a
prompt/reply example.

**Preference pairs** never invent a preference. Replies belong to the same prompt when they
were answered for the same normalised prompt text, following "try again" retries
(``Interaction.parent_id``) back to the message that started them. Only replies that someone
rated count; the same reply text is counted once with its ratings summed. Every two replies
of a prompt whose net ratings differ make a pair, the higher-rated one chosen, largest rating
gap first, at most ``max_pairs_per_prompt`` per prompt. Unrated candidates are never used.

>>> from tuning.records import Interaction
>>> def reply(id, text, parent=None):
...     return Interaction(id=id, team="T", channel="C", ts=id, kind="generate",
...                        input_text="is the build green?", output=text, model_version="v1",
...                        parent_id=parent)
>>> built = build_preference_pairs([reply("a", "Always."), reply("b", "Define green.", "a")],
...                                {"a": -1, "b": 2})
>>> [(p.chosen, p.rejected, p.margin) for p in built.items]
[('Define green.', 'Always.', 3)]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import combinations

from tuning.datasets.examples import Built, Example, PreferencePair, Skip
from tuning.records import Interaction
from tuning.redaction import redact
from tuning.text import normalize


def build_generator_examples(
    interactions: Iterable[Interaction], ratings: Mapping[str, int]
) -> Built[Example]:
    """Return prompt/reply examples from replies with a net positive rating."""
    skips: list[Skip] = []
    chosen: dict[tuple[str, str], Example] = {}
    unrated = 0
    for interaction in _replies(interactions):
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
    items = tuple(chosen.values())
    return Built(items=items, skips=tuple(skips), counts={"unrated_interactions": unrated})


def build_preference_pairs(
    interactions: Iterable[Interaction],
    ratings: Mapping[str, int],
    *,
    max_pairs_per_prompt: int = 10,
) -> Built[PreferencePair]:
    """Return pairs of rated replies to the same prompt whose net ratings differ."""
    replies = list(_replies(interactions))
    by_id = {interaction.id: interaction for interaction in replies}
    groups: dict[str, dict[str, list[Interaction]]] = {}  # prompt key -> reply key -> replies
    prompts: dict[str, str] = {}
    skips: list[Skip] = []
    unrated = 0
    for interaction in replies:
        if interaction.id not in ratings:
            unrated += 1
            continue
        prompt = redact(_root(interaction, by_id).input_text).strip()
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
    counts = {"unrated_interactions": unrated, "prompts": len(groups)}
    return Built(items=tuple(pairs), skips=tuple(skips), counts=counts)


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


def _replies(interactions: Iterable[Interaction]) -> Iterable[Interaction]:
    return sorted((i for i in interactions if i.kind == "generate"), key=lambda i: i.created_at)


def _root(interaction: Interaction, by_id: Mapping[str, Interaction]) -> Interaction:
    """Follow ``parent_id`` back to the first reply (stopping at a gap or a cycle)."""
    seen = {interaction.id}
    while interaction.parent_id and interaction.parent_id in by_id:
        interaction = by_id[interaction.parent_id]
        if interaction.id in seen:
            break
        seen.add(interaction.id)
    return interaction
