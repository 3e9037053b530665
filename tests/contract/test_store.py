"""One contract for every Store implementation: SQLite always, Firestore on the real emulator."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from tests.clock import ManualClock
from tuning.errors import ConflictError, NotFoundError
from tuning.records import (
    AuditEntry,
    Candidate,
    ChannelSettings,
    Correction,
    Erased,
    Interaction,
    JobRecord,
    Manifest,
    ModelVersion,
    StateChange,
    correction_id,
    utcnow,
)
from tuning.store.base import Store
from tuning.store.firestore.store import FirestoreStore
from tuning.store.sqlite.store import SqliteStore

T0 = utcnow().replace(microsecond=0) - timedelta(days=1)
HOUR = timedelta(hours=1)


def interaction(n: int, **changes: object) -> Interaction:
    """Build interaction number ``n``, created ``n`` seconds after T0."""
    fields: dict[str, object] = {
        "id": f"i{n:05d}",
        "team": "T1",
        "channel": "C1",
        "ts": f"1700000000.{n:06d}",
        "kind": "generate" if n % 2 else "classify",
        "input_text": f"message {n} 🙃",
        "output": f"reply {n}",
        "model_version": "generator-1",
        "user": "U1",
        "created_at": T0 + timedelta(seconds=n),
    }
    fields.update(changes)
    return Interaction(**fields)  # type: ignore[arg-type]


def model(version: str, *, task: str = "classifier", age: int = 0) -> ModelVersion:
    return ModelVersion(
        task=task,  # type: ignore[arg-type]
        version=version,
        backend="local",
        artifact=f"/models/{version}.skops",
        metrics={"f1": 0.5},
        created_at=T0 + timedelta(minutes=age),
    )


async def test_ping(store: Store) -> None:
    assert await store.ping() is True


# -- interactions ------------------------------------------------------------------------------


async def test_interaction_round_trips_with_candidates(store: Store) -> None:
    item = interaction(
        1,
        thread_ts="1700000000.000000",
        reply_ts="1700000001.000001",
        probability=0.875,
        candidates=(Candidate("oh great", 0.9), Candidate("wonderful ✨", -1.25)),
        parent_id="i00000",
    )
    await store.add_interaction(item)
    assert await store.get_interaction("i00001") == item
    assert await store.get_interaction("missing") is None


async def test_the_author_round_trips_apart_from_the_actor_and_defaults_to_it(
    store: Store,
) -> None:
    retried = interaction(1, user="U2", author="U1", parent_id="i00000")
    await store.add_interaction(retried)
    await store.add_interaction(interaction(2, user="U2"))
    stored = await store.get_interaction("i00001")
    assert stored == retried
    assert (stored.user, stored.author) == ("U2", "U1")
    own = await store.get_interaction("i00002")
    assert own is not None
    assert own.author == "U2"
    await store.update_interaction(interaction(2, user="U2", author="U3"))
    assert [(i.id, i.author) async for i in store.iter_interactions()] == [
        ("i00001", "U1"),
        ("i00002", "U3"),
    ]


async def test_duplicate_interaction_conflicts_and_update_replaces(store: Store) -> None:
    await store.add_interaction(interaction(1))
    with pytest.raises(ConflictError):
        await store.add_interaction(interaction(1, output="other"))
    changed = interaction(1, output="edited", reply_ts="1700000009.000001", probability=0.1)
    await store.update_interaction(changed)
    assert await store.get_interaction("i00001") == changed
    with pytest.raises(NotFoundError):
        await store.update_interaction(interaction(2))


async def test_find_interaction_by_ts_and_reply_ts(store: Store) -> None:
    await store.add_interaction(interaction(1, reply_ts="1700000050.000001"))
    await store.add_interaction(interaction(2, channel="C2"))
    by_ts = await store.find_interaction(channel="C1", ts="1700000000.000001")
    by_reply = await store.find_interaction(channel="C1", ts="1700000050.000001")
    assert by_ts is not None
    assert by_ts.id == "i00001"
    assert by_reply is not None
    assert by_reply.id == "i00001"
    assert await store.find_interaction(channel="C2", ts="1700000000.000001") is None
    assert await store.find_interaction(channel="C1", ts="1700000000.000002") is None


async def test_iter_interactions_pages_oldest_first_with_filters(store: Store) -> None:
    # More than one page (fixtures use a page size of 50), stored out of order.
    items = [interaction(n) for n in range(120)]
    await asyncio.gather(*(store.add_interaction(item) for item in reversed(items)))
    assert [i.id async for i in store.iter_interactions()] == [i.id for i in items]
    generated = [i.id async for i in store.iter_interactions(kind="generate")]
    assert generated == [i.id for i in items if i.kind == "generate"]
    recent = [i.id async for i in store.iter_interactions(since=items[99].created_at)]
    assert recent == [i.id for i in items[100:]]


# -- feedback ----------------------------------------------------------------------------------


async def test_feedback_is_idempotent_under_100_concurrent_writes(store: Store) -> None:
    await store.add_interaction(interaction(1))
    results = await asyncio.gather(
        *(
            store.add_feedback(interaction_id="i00001", user="U2", reaction="joy", rating=1)
            for _ in range(100)
        )
    )
    stored = [f async for f in store.iter_feedback(include_retracted=True)]
    assert len(stored) == 1
    assert {(f.interaction_id, f.user, f.reaction, f.rating) for f in results} == {
        ("i00001", "U2", "joy", 1)
    }
    assert {f.created_at for f in results} == {stored[0].created_at}


async def test_feedback_retraction_keeps_history_and_re_adding_reinstates(store: Store) -> None:
    first = await store.add_feedback(interaction_id="i1", user="U2", reaction="joy", rating=1)
    assert not first.retracted
    assert first.retracted_at is None
    retracted = await store.retract_feedback(interaction_id="i1", user="U2", reaction="joy")
    assert retracted is not None
    assert retracted.retracted
    assert retracted.retracted_at is not None
    assert retracted.retracted_at >= first.created_at
    assert retracted.created_at == first.created_at
    assert [f async for f in store.iter_feedback()] == []
    assert [f async for f in store.iter_feedback(include_retracted=True)] == [retracted]
    assert await store.count_feedback() == 0

    again = await store.add_feedback(interaction_id="i1", user="U2", reaction="joy", rating=1)
    assert not again.retracted
    assert again.created_at == first.created_at
    assert again.updated_at >= retracted.updated_at
    assert again.retracted_at == retracted.retracted_at  # the last retraction stays on record
    assert [f async for f in store.iter_feedback()] == [again]


async def test_feedback_and_promotions_are_stamped_by_the_store_clock(
    store: Store, clock: ManualClock
) -> None:
    given = await store.add_feedback(interaction_id="i1", user="U2", reaction="joy", rating=1)
    assert given.created_at == given.updated_at == clock()
    clock.advance(timedelta(minutes=1))
    retracted = await store.retract_feedback(interaction_id="i1", user="U2", reaction="joy")
    assert retracted is not None
    assert retracted.retracted_at == retracted.updated_at == clock()
    await store.add_model(model("v1"))
    promoted = await store.promote(task="classifier", version="v1")
    assert promoted.promoted_at == clock()


async def test_retracting_feedback_never_given_returns_none(store: Store) -> None:
    assert await store.retract_feedback(interaction_id="i1", user="U2", reaction="joy") is None
    assert [f async for f in store.iter_feedback(include_retracted=True)] == []


async def test_a_late_add_cannot_undo_a_newer_retraction(store: Store) -> None:
    key = {"interaction_id": "i1", "user": "U2", "reaction": "joy"}
    await store.add_feedback(**key, rating=1, event_ts="1700000000.000100")
    await store.retract_feedback(**key, event_ts="1700000000.000300")
    late = await store.add_feedback(**key, rating=1, event_ts="1700000000.000200")
    assert late.retracted
    assert [f async for f in store.iter_feedback()] == []
    # A newer add reinstates it; then an older retraction is ignored.
    again = await store.add_feedback(**key, rating=-1, event_ts="1700000000.000400")
    assert (again.retracted, again.rating) == (False, -1)
    stale = await store.retract_feedback(**key, event_ts="1700000000.000350")
    assert stale is not None
    assert not stale.retracted
    assert [f async for f in store.iter_feedback()] == [again]


async def test_a_retraction_before_its_add_arrives_is_remembered(store: Store) -> None:
    key = {"interaction_id": "i1", "user": "U2", "reaction": "joy"}
    assert await store.retract_feedback(**key, event_ts="1700000000.000300") is None
    late = await store.add_feedback(**key, rating=1, event_ts="1700000000.000200")
    assert late.retracted
    assert [f async for f in store.iter_feedback(include_retracted=True)] == []
    assert await store.count_feedback() == 0
    newer = await store.add_feedback(**key, rating=1, event_ts="1700000000.000400")
    assert [f async for f in store.iter_feedback()] == [newer]


async def test_the_same_event_applied_twice_changes_nothing(store: Store) -> None:
    key = {"interaction_id": "i1", "user": "U2", "reaction": "joy"}
    first = await store.add_feedback(**key, rating=1, event_ts="1700000000.000100")
    await store.retract_feedback(**key)  # unordered writes still apply
    replayed = await store.add_feedback(**key, rating=1, event_ts="1700000000.000100")
    assert replayed.retracted
    assert first.retracted is False


async def test_iter_feedback_filters_by_interaction_and_since(
    store: Store, clock: ManualClock
) -> None:
    for n in range(60):
        clock.advance(timedelta(seconds=1))
        await store.add_feedback(
            interaction_id=f"i{n % 3}", user=f"U{n}", reaction="joy", rating=1 if n % 2 else -1
        )
    everything = [f async for f in store.iter_feedback()]
    assert len(everything) == 60
    assert [f.updated_at for f in everything] == sorted(f.updated_at for f in everything)
    on_one = [f async for f in store.iter_feedback(interaction_id="i1")]
    assert len(on_one) == 20
    assert {f.interaction_id for f in on_one} == {"i1"}
    later = [f async for f in store.iter_feedback(since=everything[39].updated_at)]
    assert later == everything[40:]
    assert await store.count_feedback(since=everything[39].updated_at) == 20


async def test_count_feedback_counts_by_kind_since_and_skips_retracted(store: Store) -> None:
    # interaction(n) is "generate" for odd n and "classify" for even n.
    for n in range(6):
        await store.add_interaction(interaction(n))
    for n in range(6):
        for user in ("U2", "U3"):
            await store.add_feedback(
                interaction_id=f"i{n:05d}", user=user, reaction="joy", rating=1
            )
    await store.add_feedback(interaction_id="orphan", user="U2", reaction="joy", rating=1)
    assert await store.count_feedback() == 13
    assert await store.count_feedback(kind="generate") == 6
    assert await store.count_feedback(kind="classify") == 6
    await store.retract_feedback(interaction_id="i00001", user="U2", reaction="joy")
    assert await store.count_feedback(kind="generate") == 5
    assert await store.count_feedback(kind="classify") == 6
    everything = [f async for f in store.iter_feedback()]
    cutoff = everything[-4].updated_at
    later = [f for f in everything if f.updated_at > cutoff]
    assert await store.count_feedback(since=cutoff) == len(later)
    kinds = {i.id: i.kind async for i in store.iter_interactions()}
    assert await store.count_feedback(since=cutoff, kind="classify") == sum(
        1 for f in later if kinds.get(f.interaction_id) == "classify"
    )
    # Reinstating keeps counting by the interaction's kind.
    await store.add_feedback(interaction_id="i00001", user="U2", reaction="joy", rating=-1)
    assert await store.count_feedback(kind="generate") == 6


# -- claims ------------------------------------------------------------------------------------


async def test_100_concurrent_claims_of_one_event_have_one_winner(store: Store) -> None:
    wins = await asyncio.gather(
        *(store.claim("event:Ev1", ttl=timedelta(minutes=5), holder=f"h{n}") for n in range(100))
    )
    assert wins.count(True) == 1
    assert await store.claim("event:Ev2", ttl=timedelta(minutes=5)) is True


async def test_release_only_by_holder(store: Store) -> None:
    assert await store.claim("lease", ttl=timedelta(minutes=5), holder="a")
    assert not await store.claim("lease", ttl=timedelta(minutes=5), holder="a")  # not re-entrant
    await store.release("lease", holder="b")
    assert not await store.claim("lease", ttl=timedelta(minutes=5), holder="b")
    await store.release("lease", holder="a")
    assert await store.claim("lease", ttl=timedelta(minutes=5), holder="b")


async def test_expired_claim_can_be_won_again_and_purged(store: Store, clock: ManualClock) -> None:
    assert await store.claim("short", ttl=timedelta(milliseconds=200))
    assert await store.claim("long", ttl=timedelta(hours=1))
    assert not await store.claim("short", ttl=timedelta(milliseconds=200))
    clock.advance(timedelta(milliseconds=300))
    wins = await asyncio.gather(*(store.claim("short", ttl=timedelta(hours=1)) for _ in range(20)))
    assert wins.count(True) == 1
    assert await store.purge_expired() == 0
    assert await store.purge_expired(now=clock() + timedelta(hours=2)) == 2
    assert await store.claim("long", ttl=timedelta(hours=1))


async def test_a_claim_expires_exactly_at_its_ttl_by_the_store_clock(
    store: Store, clock: ManualClock
) -> None:
    assert await store.claim("lease", ttl=timedelta(seconds=10), holder="a")
    clock.advance(timedelta(seconds=10) - timedelta(microseconds=1))
    assert not await store.claim("lease", ttl=timedelta(seconds=10), holder="b")
    assert await store.purge_expired() == 0
    clock.advance(timedelta(microseconds=1))
    assert await store.purge_expired() == 1
    assert await store.claim("lease", ttl=timedelta(seconds=10), holder="b")


# -- model registry ----------------------------------------------------------------------------


async def test_models_register_list_and_conflict(store: Store) -> None:
    await store.add_model(model("v1", age=1))
    await store.add_model(model("v2", age=2))
    await store.add_model(model("g1", task="generator", age=3))
    with pytest.raises(ConflictError):
        await store.add_model(model("v1"))
    assert [m.version for m in await store.list_models(task="classifier")] == ["v2", "v1"]
    assert [m.version for m in await store.list_models()] == ["g1", "v2", "v1"]
    assert await store.get_model(task="classifier", version="v1") == model("v1", age=1)
    assert await store.get_model(task="generator", version="v1") is None
    assert await store.active_model(task="classifier") is None
    assert await store.active_version(task="classifier") is None


async def test_promote_retires_previous_and_rollback_restores_it(store: Store) -> None:
    for n in (1, 2):
        await store.add_model(model(f"v{n}", age=n))
    await store.add_model(model("g1", task="generator"))
    await store.promote(task="generator", version="g1")
    first = await store.promote(task="classifier", version="v1")
    assert first.state == "active"
    assert first.promoted_at is not None
    second = await store.promote(task="classifier", version="v2")
    assert second.state == "active"
    states = {m.version: m.state for m in await store.list_models()}
    assert states == {"v1": "retired", "v2": "active", "g1": "active"}

    back = await store.rollback(task="classifier")
    assert back.version == "v1"
    active = await store.active_model(task="classifier")
    assert active is not None
    assert active.version == "v1"
    assert active == await store.get_model(task="classifier", version="v1")
    assert await store.active_version(task="classifier") == "v1"
    assert await store.active_version(task="generator") == "g1"
    assert (await store.active_model(task="generator")) is not None
    with pytest.raises(NotFoundError):
        await store.promote(task="classifier", version="v9")
    with pytest.raises(NotFoundError):
        await store.rollback(task="generator")


async def test_concurrent_promotions_leave_exactly_one_active(store: Store) -> None:
    for n in range(4):
        await store.add_model(model(f"v{n}", age=n))
    await asyncio.gather(
        *(store.promote(task="classifier", version=f"v{n % 4}") for n in range(12))
    )
    assert [m.state for m in await store.list_models()].count("active") == 1


def twin(store: Store) -> Store:
    """Return a second, independent store on the same data and clock (its own connection)."""
    if isinstance(store, SqliteStore):
        return SqliteStore(store.path, clock=store.clock)
    assert isinstance(store, FirestoreStore)
    from google.cloud.firestore import AsyncClient

    client = AsyncClient(project=store.client.project)
    return FirestoreStore(client, prefix=store.prefix, clock=store.clock)


async def test_two_instances_promoting_at_once_leave_exactly_one_active(store: Store) -> None:
    other = twin(store)
    try:
        for n in range(3):
            await store.add_model(model(f"v{n}", age=n))
        # No active version yet, then with one active: both cases must serialise.
        await asyncio.gather(
            store.promote(task="classifier", version="v0"),
            other.promote(task="classifier", version="v1"),
        )
        assert [m.state for m in await store.list_models()].count("active") == 1
        await asyncio.gather(
            store.promote(task="classifier", version="v2"),
            other.promote(task="classifier", version="v0"),
        )
        assert [m.state for m in await other.list_models()].count("active") == 1
    finally:
        await other.close()


async def test_two_instances_claiming_at_once_have_one_winner(
    store: Store, clock: ManualClock
) -> None:
    other = twin(store)
    try:
        fresh = await asyncio.gather(
            *(s.claim("event:E1", ttl=timedelta(seconds=1)) for s in (store, other) * 10)
        )
        assert fresh.count(True) == 1
        clock.advance(timedelta(seconds=1.1))
        taken_over = await asyncio.gather(
            *(s.claim("event:E1", ttl=timedelta(hours=1)) for s in (store, other) * 10)
        )
        assert taken_over.count(True) == 1
    finally:
        await other.close()


async def test_update_model_metrics_merges(store: Store) -> None:
    await store.add_model(model("v1"))
    await store.update_model_metrics(task="classifier", version="v1", metrics={"auc": 0.75})
    stored = await store.get_model(task="classifier", version="v1")
    assert stored is not None
    assert dict(stored.metrics) == {"f1": 0.5, "auc": 0.75}
    with pytest.raises(NotFoundError):
        await store.update_model_metrics(task="classifier", version="v9", metrics={})


# -- jobs --------------------------------------------------------------------------------------


def job(n: int, **changes: object) -> JobRecord:
    fields: dict[str, object] = {
        "id": f"job-{n}",
        "task": "classifier" if n % 2 else "generator",
        "method": "sft",
        "backend": "local",
        "config": {"epochs": 3, "nested": {"lr": 0.1}},
        "notify": {"channel": "C1", "thread_ts": "1.2"},
        "history": (StateChange("QUEUED", T0 + timedelta(minutes=n)),),
        "created_at": T0 + timedelta(minutes=n),
        "updated_at": T0 + timedelta(minutes=n),
    }
    fields.update(changes)
    return JobRecord(**fields)  # type: ignore[arg-type]


async def test_jobs_save_replace_and_list_newest_first(store: Store) -> None:
    for n in range(5):
        await store.save_job(job(n))
    assert await store.get_job("job-3") == job(3)
    assert await store.get_job("nope") is None
    assert [j.id for j in await store.list_jobs()] == [f"job-{n}" for n in (4, 3, 2, 1, 0)]
    assert [j.id for j in await store.list_jobs(limit=2)] == ["job-4", "job-3"]
    assert [j.id for j in await store.list_jobs(task="classifier")] == ["job-3", "job-1"]

    done = job(
        4,
        state="SUCCEEDED",
        history=(
            StateChange("QUEUED", T0),
            StateChange("SUCCEEDED", T0 + timedelta(hours=1)),
        ),
        metrics={"f1": 0.9},
        outcome="promoted",
        candidate_version="v2",
    )
    await store.save_job(done)
    assert await store.get_job("job-4") == done
    assert [j.id for j in await store.running_jobs()] == [f"job-{n}" for n in (3, 2, 1, 0)]


# -- try again links and corrections -----------------------------------------------------------


async def test_linked_interactions_are_the_retries_of_one_reply(store: Store) -> None:
    await store.add_interaction(interaction(1))
    await store.add_interaction(interaction(3, parent_id="i00001"))
    await store.add_interaction(interaction(2, parent_id="i00001"))
    await store.add_interaction(interaction(4, parent_id="i00003"))
    linked = await store.linked_interactions(parent_id="i00001")
    assert [i.id for i in linked] == ["i00002", "i00003"]
    assert linked[0] == interaction(2, parent_id="i00001")
    assert await store.linked_interactions(parent_id="i00004") == []


async def test_a_correction_is_one_per_interaction_and_user_and_a_later_one_replaces_it(
    store: Store,
) -> None:
    first = Correction("i00001", "U2", "Oh sure, *another* meeting ✨", created_at=T0)
    other = Correction("i00001", "U3", "Meetings: the cure for work.", created_at=T0)
    await store.add_correction(first)
    await store.add_correction(other)
    later = Correction("i00001", "U2", "Wow. A meeting. Groundbreaking.", created_at=T0 + HOUR)
    await store.add_correction(later)
    stored = [c async for c in store.iter_corrections()]
    assert stored == [other, later]


async def test_iter_corrections_pages_oldest_first_after_since(store: Store) -> None:
    made = [
        Correction(f"i{n:05d}", "U2", f"better {n}", created_at=T0 + timedelta(seconds=n))
        for n in range(7)
    ]
    for correction in reversed(made):
        await store.add_correction(correction)
    assert [c async for c in store.iter_corrections()] == made
    since = T0 + timedelta(seconds=3)
    assert [c async for c in store.iter_corrections(since=since)] == made[4:]


async def test_forget_user_deletes_their_corrections_and_those_on_their_messages(
    store: Store,
) -> None:
    await store.add_interaction(interaction(1, user="U1"))
    await store.add_interaction(interaction(2, user="U2"))
    await store.add_correction(Correction("i00001", "U3", "on theirs"))
    await store.add_correction(Correction("i00002", "U1", "by them"))
    await store.add_correction(Correction("i00002", "U3", "someone else's"))
    assert (await store.forget_user(user="U1")).total == 3
    assert [(c.interaction_id, c.user) async for c in store.iter_corrections()] == [
        ("i00002", "U3")
    ]


# -- channel settings, opt-outs, audit ---------------------------------------------------------


async def test_channel_settings_default_and_stored(store: Store) -> None:
    assert await store.get_channel_settings(channel="C1") is None
    assert await store.channel_settings(channel="C1") == ChannelSettings(channel="C1")
    custom = ChannelSettings(channel="C1", threshold=0.6, mode="reply", reaction="eyes")
    await store.put_channel_settings(custom)
    assert await store.channel_settings(channel="C1") == custom
    await store.put_channel_settings(ChannelSettings(channel="C1", mode="off"))
    assert (await store.channel_settings(channel="C1")).mode == "off"


async def test_channel_exploration_share_round_trips(store: Store) -> None:
    assert (await store.channel_settings(channel="C1")).explore == 0.0
    await store.put_channel_settings(ChannelSettings(channel="C1", explore=0.15))
    assert (await store.channel_settings(channel="C1")).explore == 0.15


async def test_opt_outs(store: Store) -> None:
    assert await store.is_opted_out(user="U1") is False
    await store.set_opt_out(user="U1", opted_out=True)
    assert await store.is_opted_out(user="U1") is True
    assert await store.is_opted_out(user="U2") is False
    await store.set_opt_out(user="U1", opted_out=False)
    assert await store.is_opted_out(user="U1") is False


async def test_opted_out_among_answers_for_many_users_at_once(store: Store) -> None:
    for user, opted_out in (("U1", True), ("U2", False), ("U3", True)):
        await store.set_opt_out(user=user, opted_out=opted_out)
    users = ["U1", "U2", "U3", "U4", "U1"] + [f"V{n}" for n in range(1200)]  # over a chunk
    assert await store.opted_out_among(users) == {"U1", "U3"}
    assert await store.opted_out_among([]) == set()


async def test_recorded_interactions_names_the_stored_ones(store: Store) -> None:
    for n in (1, 3):
        await store.add_interaction(interaction(n))
    ids = [interaction(n).id for n in range(5)] + [f"missing-{n}" for n in range(1200)]
    assert await store.recorded_interactions(ids) == {interaction(1).id, interaction(3).id}
    assert await store.recorded_interactions([]) == set()


async def test_audit_newest_first(store: Store) -> None:
    entries = [
        AuditEntry(
            actor="U1",
            action=f"promote-{n}",
            result="ok",
            detail={"n": n},
            at=T0 + timedelta(seconds=n),
        )
        for n in range(5)
    ]
    for entry in entries:
        await store.add_audit(entry)
    assert await store.list_audit(limit=3) == entries[:1:-1]
    assert len(await store.list_audit()) == 5


async def test_forget_user_leaves_nothing_of_them(store: Store) -> None:
    await store.add_interaction(interaction(1, user="U1"))
    await store.add_interaction(interaction(2, user="U2"))
    await store.add_feedback(interaction_id="i00001", user="U3", reaction="joy", rating=1)
    await store.add_feedback(interaction_id="i00002", user="U1", reaction="joy", rating=1)
    await store.add_feedback(interaction_id="i00002", user="U3", reaction="joy", rating=1)
    await store.retract_feedback(interaction_id="i00002", user="U3", reaction="joy")

    assert (await store.forget_user(user="U1")).total == 3
    assert await store.get_interaction("i00001") is None
    left = [f async for f in store.iter_feedback(include_retracted=True)]
    assert [(f.interaction_id, f.user) for f in left] == [("i00002", "U3")]
    assert [i.id async for i in store.iter_interactions()] == ["i00002"]
    assert (await store.forget_user(user="U1")).total == 0


# -- privacy: forget by author, retention, manifests -------------------------------------------


async def _prompt_retried_by_someone_else(store: Store) -> None:
    """U1 asks (i1), U2 presses *Try again* on it (i2: U2's click, U1's text), U2 asks (i3)."""
    await store.add_interaction(interaction(1, user="U1"))
    await store.add_interaction(interaction(2, user="U2", author="U1", parent_id="i00001"))
    await store.add_interaction(interaction(3, user="U2"))
    await store.add_feedback(interaction_id="i00002", user="U3", reaction="joy", rating=1)
    await store.add_feedback(interaction_id="i00003", user="U1", reaction="joy", rating=1)
    await store.add_feedback(interaction_id="i00003", user="U3", reaction="joy", rating=1)
    await store.add_correction(Correction("i00001", "U3", "on U1's text"))
    await store.add_correction(Correction("i00003", "U1", "by U1"))
    await store.add_correction(Correction("i00003", "U3", "by U3 on U2's text"))


async def test_forget_deletes_by_author_and_clears_the_actor_of_what_others_wrote(
    store: Store,
) -> None:
    await _prompt_retried_by_someone_else(store)
    await store.forget_user(user="U2")
    kept = await store.get_interaction("i00002")  # U1 wrote it: only U2's part in it goes
    assert kept == interaction(2, user="", author="U1", parent_id="i00001")
    assert await store.get_interaction("i00003") is None
    assert [i.id async for i in store.iter_interactions()] == ["i00001", "i00002"]
    await store.forget_user(user="U1")
    assert [i.id async for i in store.iter_interactions()] == []
    assert [f async for f in store.iter_feedback(include_retracted=True)] == []
    assert [c async for c in store.iter_corrections()] == []


async def test_forget_says_what_went_in_counts_and_record_ids(store: Store) -> None:
    await _prompt_retried_by_someone_else(store)
    erased = await store.forget_user(user="U1")
    assert erased == Erased(
        interactions=2,
        feedback=2,
        corrections=2,
        record_ids=frozenset(
            {
                "i00001",
                "i00002",
                correction_id(interaction_id="i00001", user="U3"),
                correction_id(interaction_id="i00003", user="U1"),
            }
        ),
    )
    assert erased.total == 6
    assert [(f.interaction_id, f.user) async for f in store.iter_feedback()] == [("i00003", "U3")]
    assert [(c.interaction_id, c.user) async for c in store.iter_corrections()] == [
        ("i00003", "U3")
    ]
    survivor = await store.get_interaction("i00003")
    assert survivor == interaction(3, user="U2")  # not U1's: untouched
    assert await store.forget_user(user="U1") == Erased()
    assert await store.forget_user(user="") == Erased()
    assert [i.id async for i in store.iter_interactions()] == ["i00003"]


async def test_purge_before_deletes_old_records_and_what_hangs_on_them(
    store: Store, clock: ManualClock
) -> None:
    day = timedelta(days=1)
    start = clock()
    await store.add_interaction(interaction(1, created_at=start))
    await store.add_feedback(
        interaction_id="i00001", user="U2", reaction="joy", rating=1, event_ts="1700000002.0"
    )
    await store.add_correction(Correction("i-gone", "U4", "old, on nothing", created_at=start))
    clock.advance(6 * day)
    await store.add_interaction(interaction(2, created_at=clock()))
    # New feedback and a new correction on the old interaction go with it.
    await store.add_feedback(interaction_id="i00001", user="U3", reaction="joy", rating=1)
    await store.add_correction(Correction("i00001", "U3", "new, on old", created_at=clock()))
    await store.add_feedback(interaction_id="i00002", user="U3", reaction="joy", rating=-1)
    await store.add_correction(Correction("i00002", "U3", "new, on new", created_at=clock()))

    erased = await store.purge_before(start + 5 * day)
    assert erased == Erased(
        interactions=1,
        feedback=2,
        corrections=2,
        record_ids=frozenset(
            {
                "i00001",
                correction_id(interaction_id="i00001", user="U3"),
                correction_id(interaction_id="i-gone", user="U4"),
            }
        ),
    )
    assert [i.id async for i in store.iter_interactions()] == ["i00002"]
    left = [f async for f in store.iter_feedback(include_retracted=True)]
    assert [(f.interaction_id, f.user) for f in left] == [("i00002", "U3")]
    assert [(c.interaction_id, c.text) async for c in store.iter_corrections()] == [
        ("i00002", "new, on new")
    ]
    # The purged key's event order went too: an older event is a fresh start, not "stale".
    again = await store.add_feedback(
        interaction_id="i00001", user="U2", reaction="joy", rating=1, event_ts="1700000001.0"
    )
    assert not again.retracted
    assert await store.purge_before(start + 5 * day) == Erased()  # nothing old is left


def manifest(name: str, *, ids: int = 3, age: int = 0, **changes: object) -> Manifest:
    """Build the manifest of dataset ``name`` with ``ids`` record ids, ``age`` minutes after T0."""
    fields: dict[str, object] = {
        "id": f"dataset:{name}",
        "kind": "dataset",
        "task": "generator",
        "record_ids": frozenset(
            [f"i{n:07d}" for n in range(ids)]
            + [correction_id(interaction_id=f"i{n:07d}", user="U3") for n in range(ids // 3)]
        ),
        "locations": (f"/data/datasets/{name}", f"gs://bucket/tuning/{name}/train.jsonl"),
        "oldest": T0,
        "affected": "",
        "pending": (),
        "created_at": T0 + timedelta(minutes=age),
        "updated_at": T0 + timedelta(minutes=age),
    }
    fields.update(changes)
    return Manifest(**fields)  # type: ignore[arg-type]


async def test_manifests_round_trip_replace_list_newest_first_and_delete(store: Store) -> None:
    assert await store.get_manifest("dataset:j1") is None
    assert await store.list_manifests() == []
    big = manifest("j1", ids=50_000)
    flagged = manifest(
        "j2",
        kind="model",
        id="model:generator:v2",
        oldest=None,
        record_ids=frozenset(),
        affected="forgotten",
        pending=("gs://bucket/tuning/j2/train.jsonl\t403 Forbidden",),
        age=2,
    )
    await store.put_manifest(big)
    await store.put_manifest(flagged)
    await store.put_manifest(manifest("j3", age=1))
    assert await store.get_manifest("dataset:j1") == big
    assert len(big.record_ids) == 50_000 + 50_000 // 3
    assert await store.get_manifest("model:generator:v2") == flagged
    assert [m.id for m in await store.list_manifests()] == [
        "model:generator:v2",
        "dataset:j3",
        "dataset:j1",
    ]

    smaller = manifest("j1", ids=2, affected="expired", locations=(), age=3)
    await store.put_manifest(smaller)
    assert await store.get_manifest("dataset:j1") == smaller
    await store.delete_manifest("dataset:j1")
    await store.delete_manifest("dataset:j1")  # a missing one: no-op
    assert await store.get_manifest("dataset:j1") is None
    assert [m.id for m in await store.list_manifests()] == ["model:generator:v2", "dataset:j3"]
