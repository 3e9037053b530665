"""The scorer's reward model: learnt from ratings, checked on held-out prompts; the AUC gate."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.tuning_loop.factories import PLACES, THINGS, reply
from tuning.backends.local import NO_REINFORCEMENT, LocalBackend
from tuning.config import Settings
from tuning.datasets.reinforcement import build_reinforcement_prompts
from tuning.errors import BackendError
from tuning.lifecycle.scheduler import is_due, policies_for, reinforcement_policy
from tuning.lifecycle.service import TuningService
from tuning.models.reward import RewardModel
from tuning.records import Interaction
from tuning.scoring.fit import held_out_auc, learn, reward_data
from tuning.store.sqlite.store import SqliteStore

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def rated(n: int) -> tuple[list[Interaction], dict[str, int]]:
    """Prompts answered twice: people like the sarcastic, on-topic reply, not the flat one."""
    interactions: list[Interaction] = []
    ratings: dict[str, int] = {}
    for i in range(n):
        thing = THINGS[i % len(THINGS)]
        prompt = f"Is the {thing} fixed yet? ({PLACES[i % len(PLACES)]} {i})"
        flat = reply(f"g{i}a", prompt, f"Yes {i}.", minute=2 * i)
        good = reply(f"g{i}b", prompt, f"Oh sure, the {thing} is totally fixed. Like always.")
        interactions += [flat, good]
        ratings |= {flat.id: -1, good.id: 1}
    return interactions, ratings


def test_ratings_and_pairs_split_by_prompt_as_datasets_do() -> None:
    interactions, ratings = rated(80)
    train, validation = reward_data(interactions, ratings)
    assert len(train.ratings) + len(validation.ratings) == 160
    assert len(train.pairs) + len(validation.pairs) == 80
    held_out = {prompt for prompt, _, _ in validation.ratings}
    assert held_out
    assert not held_out & {prompt for prompt, _, _ in train.ratings}


def test_the_learnt_reward_agrees_with_held_out_ratings() -> None:
    interactions, ratings = rated(120)
    reward, auc = learn(RewardModel(), interactions, ratings)
    assert reward.n_ratings == 240
    assert reward.n_pairs == 120
    assert auc > 0.9


def test_auc_is_unknown_without_both_kinds_of_rating() -> None:
    assert math.isnan(held_out_auc(RewardModel(), []))
    assert math.isnan(held_out_auc(RewardModel(), [("p", "a", True), ("p", "b", True)]))


def test_a_reward_that_disagrees_with_people_gets_a_low_auc() -> None:
    interactions, ratings = rated(60)
    flipped = {key: -value for key, value in ratings.items()}
    _, validation = reward_data(interactions, flipped)
    assert held_out_auc(RewardModel(), validation.ratings) < 0.5


def test_prompts_fold_retries_into_their_first_message_and_keep_unrated_ones() -> None:
    first = reply("a", "vpn down again", "Fine.")
    retry = reply("b", "vpn down again", "Oh good, the vpn. Again.", parent="a")
    unrated = reply("c", "lunch is late", "Shocking.")
    built = build_reinforcement_prompts([first, retry, unrated], {"a": -1, "b": 1})
    assert [(e.input, e.target) for e in built.items] == [
        ("vpn down again", "Oh good, the vpn. Again."),
        ("lunch is late", ""),
    ]


POLICY = reinforcement_policy(enabled=True, min_reward_auc=0.75)


@pytest.mark.parametrize(
    ("auc", "due", "reason"),
    [
        (None, False, "AUC is unknown"),
        (math.nan, False, "AUC is unknown"),
        (0.70, False, "reward model AUC 0.700 is below 0.750"),
        (0.75, True, "100 new feedback"),
        (0.93, True, "100 new feedback"),
    ],
)
def test_reinforcement_is_due_only_while_the_reward_model_is_good_enough(
    auc: float | None, due: bool, reason: str
) -> None:
    verdict = is_due(
        POLICY, new_feedback=100, last_attempt=None, last_success=None, now=NOW, reward_auc=auc
    )
    assert (verdict.due, reason in verdict.reason) == (due, True), verdict.reason


def test_the_reinforcement_policy_is_off_unless_asked_for() -> None:
    (off,) = [p for p in policies_for(Settings()) if p.method == "reinforcement"]
    assert not off.enabled
    assert off.backend == "vertex"
    verdict = is_due(
        off, new_feedback=10**6, last_attempt=None, last_success=None, now=NOW, reward_auc=1.0
    )
    assert verdict.reason == "disabled"
    (on,) = [
        p
        for p in policies_for(Settings(schedule_reinforcement=True, reinforcement_min_auc=0.8))
        if p.method == "reinforcement"
    ]
    assert on.enabled
    assert on.min_reward_auc == 0.8


async def test_the_local_backend_refuses_reinforcement_with_one_line(
    sqlite_store: SqliteStore, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path)
    service = TuningService(sqlite_store, settings, {"local": LocalBackend(settings=settings)})
    try:
        with pytest.raises(BackendError) as refused:
            await service.launch(task="generator", method="reinforcement", backend="local")
    finally:
        await service.close()
    assert str(refused.value) == NO_REINFORCEMENT
    assert "\n" not in NO_REINFORCEMENT
    assert await sqlite_store.list_jobs() == []  # refused before anything was recorded
