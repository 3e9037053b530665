"""Reinforcement prompts: every prompt people asked the bot, with the reply they liked best.

Reinforcement tuning needs prompts, not answers: the policy writes its own replies and the reward
scorer rates them. Each prompt is the redacted text of a message the bot answered, followed back
through "try again" retries (``Interaction.parent_id``) to the message that started them, and
counted once per normalised text. When people rated a reply to it above zero, the highest-rated
one becomes ``target``, sent to Vertex as the ``preferred_reply`` reference, which the scorer may
read; prompts nobody rated are kept without one.

>>> from tuning.records import Interaction
>>> def reply(id, text, parent=None):
...     return Interaction(id=id, team="T", channel="C", ts=id, kind="generate",
...                        input_text="is the build green?", output=text, model_version="v1",
...                        parent_id=parent)
>>> built = build_reinforcement_prompts(
...     [reply("a", "Always."), reply("b", "Define green.", "a")], {"a": -1, "b": 2})
>>> [(e.input, e.target) for e in built.items]
[('is the build green?', 'Define green.')]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tuning.datasets.examples import Built, Example, Skip
from tuning.datasets.generator import root_of
from tuning.records import Interaction
from tuning.redaction import redact
from tuning.text import normalize

PREFERRED_REPLY = "preferred_reply"  # the reference name the scorer reads


def build_reinforcement_prompts(
    interactions: Iterable[Interaction], ratings: Mapping[str, int]
) -> Built[Example]:
    """Return one example per distinct prompt, ``target`` its best-rated reply (or "")."""
    replies = sorted((i for i in interactions if i.kind == "generate"), key=lambda i: i.created_at)
    by_id = {interaction.id: interaction for interaction in replies}
    prompts: dict[str, tuple[str, str]] = {}  # prompt key -> (prompt, first source)
    best: dict[str, tuple[int, str]] = {}  # prompt key -> (net rating, reply)
    skips: list[Skip] = []
    for interaction in replies:
        prompt = redact(root_of(interaction, by_id).input_text).strip()
        key = normalize(prompt)
        if not key:
            skips.append(Skip(f"interaction:{interaction.id}", "empty text"))
            continue
        prompts.setdefault(key, (prompt, f"interaction:{interaction.id}"))
        net = ratings.get(interaction.id, 0)
        reply = redact(interaction.output).strip()
        if net > 0 and normalize(reply) and net > best.get(key, (0, ""))[0]:
            best[key] = (net, reply)
    items = tuple(
        Example(key=key, input=prompt, target=best.get(key, (0, ""))[1], source=source)
        for key, (prompt, source) in prompts.items()
    )
    counts = {"prompts": len(items), "with_reference": len(best)}
    return Built(items=items, skips=tuple(skips), counts=counts)
