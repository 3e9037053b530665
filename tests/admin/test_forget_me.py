"""forget-me removes everything of the user from each store implementation, and nothing else."""

from __future__ import annotations

from bot.admin.authz import Authorizer
from bot.admin.job_progress import ProgressReporter
from bot.admin.runner import AdminRunner, Caller
from tuning.records import Interaction
from tuning.store.base import Store

GONE, KEPT = "U_GONE", "U_KEPT"


def _interaction(i: int, user: str) -> Interaction:
    return Interaction(
        id=f"{user}-{i}",
        team="T",
        channel="C1",
        ts=f"{i}.{len(user)}",
        kind="generate",
        input_text=f"message {i} by {user}",
        output="sure",
        model_version="g1",
        user=user,
    )


def _runner(store: Store) -> AdminRunner:
    def no_client() -> object:
        raise AssertionError("forget-me must not need Slack")

    return AdminRunner(
        store=store,
        tuning=None,
        authorizer=Authorizer(admin_user_ids=()),
        reporter=ProgressReporter(store=store, make_client=no_client),  # type: ignore[arg-type]
    )


async def test_forget_me_leaves_nothing_of_the_user(store: Store) -> None:
    for i in range(3):
        await store.add_interaction(_interaction(i, GONE))
        await store.add_interaction(_interaction(i, KEPT))
    # The user's feedback on someone else's message, and someone's feedback on theirs.
    await store.add_feedback(interaction_id=f"{KEPT}-0", user=GONE, reaction="joy", rating=1)
    await store.add_feedback(interaction_id=f"{KEPT}-1", user=GONE, reaction="-1", rating=-1)
    await store.retract_feedback(interaction_id=f"{KEPT}-1", user=GONE, reaction="-1")
    await store.add_feedback(interaction_id=f"{GONE}-0", user=KEPT, reaction="+1", rating=1)
    await store.add_feedback(interaction_id=f"{KEPT}-2", user=KEPT, reaction="+1", rating=1)

    answer = await _runner(store).forget(Caller(user=GONE))

    assert "Deleted" in answer.text
    count = int(answer.text.split("Deleted ")[1].split()[0])
    assert count >= 5  # three interactions and two feedback records, at least
    remaining = [i async for i in store.iter_interactions()]
    assert {i.user for i in remaining} == {KEPT}
    assert all(GONE not in i.input_text for i in remaining)
    feedback = [f async for f in store.iter_feedback(include_retracted=True)]
    assert {(f.interaction_id, f.user) for f in feedback} == {(f"{KEPT}-2", KEPT)}
    again = await _runner(store).forget(Caller(user=GONE))
    assert "nothing was deleted" in again.text
