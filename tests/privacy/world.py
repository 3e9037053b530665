"""The issue's scenario as store records: U1's texts carry a marker, other people rate them.

- U1's flagged messages (rated by U2) and mentions (answered, rated 👍 by U2);
- a *Try again* U2 pressed on U1's prompt and a bare mention by U2 under U1's thread parent:
  both stored with ``user="U2"`` (the actor) and ``author="U1"`` (who wrote the text);
- a message of U1's that U2 labelled with the sarcastic reaction;
- a correction U1 wrote for someone else's reply, and U1's ratings of other people's replies;
- plenty of U9's own flags and replies (rated by U3), which must survive forget-me.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from tuning.records import HUMAN_LABEL, Correction, Interaction, Kind, utcnow
from tuning.store.base import Store

MARKER = "quokkaflux"
U1, U2, U3, U9 = "U1", "U2", "U3", "U9"
THINGS = ("build", "deploy", "printer", "vpn", "wifi", "laptop", "standup", "ticket", "release")


@dataclass(frozen=True)
class World:
    """The ids the tests look for afterwards."""

    u1_ids: frozenset[str]  # every interaction U1 authored (actor U1 or not)
    caused_by_u1: frozenset[str]  # authored by others, caused by U1 (kept, actor cleared)
    others: frozenset[str]  # everyone else's interactions, which must survive


def item(
    id: str,
    kind: Kind,
    text: str,
    output: str,
    *,
    user: str,
    author: str = "",
    parent: str | None = None,
    at: datetime,
    version: str = "v0",
) -> Interaction:
    """Return one interaction in channel C1."""
    return Interaction(
        id=id,
        team="T1",
        channel="C1",
        ts=f"1700000000.{id}",  # unique per record, as Slack's are
        kind=kind,
        input_text=text,
        output=output,
        model_version=version,
        user=user,
        author=author,
        parent_id=parent,
        created_at=at,
    )


async def populate(store: Store, *, n: int = 24, start: datetime | None = None) -> World:
    """Store the scenario; ``n`` of each kind of record per person."""
    t0 = start or utcnow() - timedelta(days=1)
    u1: set[str] = set()
    others: set[str] = set()
    caused: set[str] = set()

    async def add(record: Interaction, rating: int, rater: str) -> None:
        await store.add_interaction(record)
        await store.add_feedback(interaction_id=record.id, user=rater, reaction="r", rating=rating)
        (u1 if record.author == U1 else others).add(record.id)

    for i in range(n):
        thing, at = THINGS[i % len(THINGS)], t0 + timedelta(minutes=i)
        sarcastic = i % 2 == 1
        text = (
            f"Oh great, the {thing} {MARKER} broke again ({i}), exactly what I needed."
            if sarcastic
            else f"The {thing} {MARKER} is down in room {i}, please have a look."
        )
        await add(
            item(f"u1f{i}", "classify", text, "sarcastic", user=U1, at=at),
            1 if sarcastic else -1,
            U2,
        )
        other = (
            f"Wonderful, the {thing} in Oslo crashed again ({i}), how lovely."
            if sarcastic
            else f"The {thing} in Oslo needs a restart ({i})."
        )
        await add(
            item(f"u9f{i}", "classify", other, "sarcastic", user=U9, at=at),
            1 if sarcastic else -1,
            U3,
        )
        prompt = f"@bot is the {thing} {MARKER} fixed yet? ({i})"
        reply = f"Oh sure, the {thing} is totally fixed. Like always ({i})."
        await add(item(f"u1g{i}", "generate", prompt, reply, user=U1, at=at), 1, U2)
        await add(
            item(
                f"u9g{i}",
                "generate",
                f"@bot will the {thing} ever work? ({i})",
                reply,
                user=U9,
                at=at,
            ),
            1,
            U3,
        )
    at = t0 + timedelta(minutes=n)
    # U2 pressed Try again on U1's prompt; U2 mentioned the bot under U1's thread parent.
    retry = item(
        "u2retry",
        "generate",
        f"@bot is the build {MARKER} fixed yet? (0)",
        "Sure.",
        user=U2,
        author=U1,
        parent="u1g0",
        at=at,
    )
    await add(retry, 1, U3)
    parent = item(
        "u2thread",
        "generate",
        f"Deploys on {MARKER} Fridays are my favourite.",
        "Sure.",
        user=U2,
        author=U1,
        at=at,
    )
    await add(parent, 1, U3)
    label = item(
        "u2label",
        "classify",
        f"I just love {MARKER} meetings that could be emails.",
        "sarcastic",
        user=U2,
        author=U1,
        at=at,
        version=HUMAN_LABEL,
    )
    await add(label, 1, U2)
    # U1 caused a record of U9's text (labelled U9's message): kept, with the actor cleared.
    caused_label = item(
        "u9labelled",
        "classify",
        "Mondays are the best, said nobody.",
        "sarcastic",
        user=U1,
        author=U9,
        at=at,
        version=HUMAN_LABEL,
    )
    await store.add_interaction(caused_label)
    caused.add(caused_label.id)
    await store.add_correction(
        Correction(
            interaction_id="u9g1", user=U1, text=f"Fixed? The {MARKER} build? Never.", created_at=at
        )
    )
    for i in range(0, n, 3):
        await store.add_feedback(interaction_id=f"u9g{i}", user=U1, reaction="l", rating=1)
    return World(u1_ids=frozenset(u1), caused_by_u1=frozenset(caused), others=frozenset(others))


def exists(location: str | Path) -> bool:
    """Return whether a local path exists (a plain function: async tests may not touch paths)."""
    return Path(location).exists()


def write_file(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` (creating its folder) and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def files_under(folder: Path) -> list[Path]:
    """Return every file below ``folder`` (none if it does not exist)."""
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
