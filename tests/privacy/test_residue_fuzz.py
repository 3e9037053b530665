"""Hypothesis: any interleaving of mention, try again, reaction, retrain, export and forget-me
leaves nothing of a forgotten user's text anywhere (SQLite, real local jobs)."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.privacy.conftest import privacy_service
from tests.privacy.jobs import export, retrain, tuning_service
from tests.privacy.world import item
from tuning.config import Settings
from tuning.errors import DatasetError
from tuning.privacy.audit import Needles, search_files, search_store
from tuning.records import TASKS, Correction, Interaction, Kind, utcnow
from tuning.store.sqlite.store import SqliteStore

pytestmark = pytest.mark.slow
USERS = ("U1", "U2", "U3")
Step = tuple[str, str]


@dataclass
class Play:
    """The state of one run: each user's current marker and the markers forget-me erased."""

    store: SqliteStore
    settings: Settings
    epoch: dict[str, int] = field(default_factory=lambda: dict.fromkeys(USERS, 0))
    forgotten: dict[str, list[str]] = field(default_factory=lambda: {u: [] for u in USERS})
    replies: list[Interaction] = field(default_factory=list)
    n: int = 0

    def marker(self, user: str) -> str:
        return f"mk{user.lower()}e{self.epoch[user]}x"

    def next_id(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"


def ago() -> datetime:
    return utcnow() - timedelta(hours=1)


async def say(play: Play, user: str, kind: Kind) -> None:
    """Store a mention (``generate``) or a flag (``classify``) of ``user``'s, rated by another."""
    text = f"is the build {play.marker(user)} fixed yet? ({play.n})"
    record = item(play.next_id(kind[0]), kind, text, "Oh sure.", user=user, at=ago())
    await play.store.add_interaction(record)
    rater = USERS[(USERS.index(user) + 1) % len(USERS)]
    await play.store.add_feedback(interaction_id=record.id, user=rater, reaction="r", rating=1)
    if kind == "generate":
        play.replies.append(record)


async def mention(play: Play, user: str) -> None:
    await say(play, user, "generate")


async def flag(play: Play, user: str) -> None:
    await say(play, user, "classify")


async def try_again(play: Play, user: str) -> None:
    """``user`` presses Try again on the newest reply: the prompt stays its author's."""
    if not play.replies:
        return
    parent = play.replies[-1]
    retry = item(
        play.next_id("t"),
        "generate",
        parent.input_text,
        "Sure, sure.",
        user=user,
        author=parent.author,
        parent=parent.id,
        at=ago(),
    )
    await play.store.add_interaction(retry)
    await play.store.add_feedback(interaction_id=retry.id, user=user, reaction="r", rating=1)
    play.replies.append(retry)


async def reaction(play: Play, user: str) -> None:
    if play.replies:
        await play.store.add_feedback(
            interaction_id=play.replies[-1].id, user=user, reaction="p", rating=-1
        )


async def correct(play: Play, user: str) -> None:
    if play.replies:
        text = f"Fixed? {play.marker(user)} never."
        await play.store.add_correction(
            Correction(interaction_id=play.replies[-1].id, user=user, text=text, created_at=ago())
        )


async def retrain_both(play: Play, user: str) -> None:
    service = tuning_service(play.store, play.settings, min_train=1)
    try:
        for task in TASKS:
            await retrain(service, play.store, task)
    finally:
        await service.close()


async def export_generator(play: Play, user: str) -> None:
    out = play.settings.data_dir / "exports" / play.next_id("x")
    with contextlib.suppress(DatasetError):  # nothing rated yet: the verb refuses, writes nothing
        await export(play.settings, "generator", out, min_train=1)


async def forget(play: Play, user: str) -> None:
    await privacy_service(play.store, play.settings).forget_user(user=user)
    play.forgotten[user].append(play.marker(user))
    play.epoch[user] += 1
    play.replies = [r for r in play.replies if r.author != user]


STEP: dict[str, Callable[[Play, str], Awaitable[None]]] = {
    "mention": mention,
    "flag": flag,
    "try_again": try_again,
    "reaction": reaction,
    "correct": correct,
    "retrain": retrain_both,
    "export": export_generator,
    "forget": forget,
}


STEPS = st.lists(
    st.tuples(
        st.sampled_from(sorted(STEP)),
        st.sampled_from(USERS),
    ),
    min_size=3,
    max_size=9,
)


async def residue(play: Play, user: str) -> list[str]:
    """Return the places that still hold any text of ``user`` that forget-me erased.

    Only the erased markers are searched for: what the user wrote after forget-me is theirs.
    """
    needles = Needles.of(play.forgotten[user])
    rows = await search_store(play.store, user="-", needles=needles)  # "-": no one's records
    files = await asyncio.to_thread(search_files, play.settings.data_dir, needles)
    return sorted(f"{f.place}: {f.where}" for f in [*rows, *files])


@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
@given(steps=STEPS)
async def test_no_interleaving_leaves_residue_of_a_forgotten_user(steps: list[Step]) -> None:
    with tempfile.TemporaryDirectory() as root:
        folder = Path(root)
        store = SqliteStore(folder / "store.db")
        await store.open()
        play = Play(store=store, settings=Settings(data_dir=folder / "data"))
        try:
            for action, user in [*steps, ("forget", "U1")]:
                await STEP[action](play, user)
                for someone in USERS:
                    assert await residue(play, someone) == [], (action, user, someone)
        finally:
            await store.close()
