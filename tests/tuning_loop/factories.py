"""Small record factories for the tuning-loop tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tuning.records import Interaction, Kind
from tuning.store.base import Store

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def interaction(
    id: str,
    text: str,
    output: str,
    *,
    kind: Kind = "classify",
    parent: str | None = None,
    minute: int = 0,
) -> Interaction:
    """Return an interaction created ``minute`` minutes after T0."""
    return Interaction(
        id=id,
        team="T1",
        channel="C1",
        ts=f"1700000000.{minute:06d}",
        kind=kind,
        input_text=text,
        output=output,
        model_version="v0",
        user="U1",
        parent_id=parent,
        created_at=T0 + timedelta(minutes=minute),
    )


def reply(
    id: str, prompt: str, text: str, *, parent: str | None = None, minute: int = 0
) -> Interaction:
    """Return a generator interaction."""
    return interaction(id, prompt, text, kind="generate", parent=parent, minute=minute)


THINGS = [
    "build",
    "deploy",
    "printer",
    "vpn",
    "wifi",
    "laptop",
    "standup",
    "ticket",
    "release",
    "pipeline",
    "database",
    "coffee machine",
    "calendar",
    "badge reader",
    "test suite",
]
PLACES = [
    "Berlin",
    "Lisbon",
    "Austin",
    "Osaka",
    "Nairobi",
    "Quito",
    "Oslo",
    "Perth",
    "Lima",
    "Turin",
]


def flag_texts(n: int) -> list[tuple[str, str, int]]:
    """Return ``n`` (text, flagged label, rating): plain messages wrongly flagged, and real sarcasm.

    Half are sincere reports that read like sarcasm to the seed model, flagged and refuted (-1);
    half are sarcastic complaints it flagged and people confirmed (+1).
    """
    rows = []
    for i in range(n):
        thing, place = THINGS[i % len(THINGS)], PLACES[(i // len(THINGS)) % len(PLACES)]
        if i % 2:
            rows.append(
                (
                    f"Sure, the {thing} in {place} crashing again (#{i}) is just what I wanted.",
                    "sarcastic",
                    1,
                )
            )
        else:
            rows.append(
                (
                    f"The {thing} in {place} is on fire again. Please file a ticket (#{i}).",
                    "sarcastic",
                    -1,
                )
            )
    return rows


async def add_flags(store: Store, n: int, *, start: int = 0) -> None:
    """Store ``n`` rated flags (see :func:`flag_texts`)."""
    for i, (text, label, rating) in enumerate(flag_texts(n)):
        item = interaction(f"f{start + i}", text, label, minute=start + i)
        await store.add_interaction(item)
        await store.add_feedback(interaction_id=item.id, user="U2", reaction="x", rating=rating)


async def add_replies(store: Store, n: int) -> None:
    """Store ``n`` prompts answered twice ("try again"), the retry rated above the first reply."""
    for i in range(n):
        thing = THINGS[i % len(THINGS)]
        prompt = f"Is the {thing} fixed yet? ({PLACES[i % len(PLACES)]} {i})"
        first = reply(f"g{i}a", prompt, f"The {thing} is fine.", minute=2 * i)
        retry = reply(
            f"g{i}b",
            prompt,
            f"Oh sure, the {thing} is totally fixed. Like always.",
            parent=first.id,
            minute=2 * i + 1,
        )
        for item, rating in ((first, -1), (retry, 1)):
            await store.add_interaction(item)
            await store.add_feedback(interaction_id=item.id, user="U3", reaction="y", rating=rating)
