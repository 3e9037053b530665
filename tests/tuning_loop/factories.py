"""Small record factories for the tuning-loop tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tuning.records import Interaction, Kind

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
