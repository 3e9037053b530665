"""Every query the Firestore store sends is served by an index ``firestore.indexes.json`` ships.

Production Firestore refuses a query that lacks its composite index (FAILED_PRECONDITION); the
emulator runs it anyway. So this drives every Store method on the emulator, records each query
the SDK sends (at the GAPIC client, the last step before the wire), and checks it against the file.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud.firestore import AsyncClient, FieldFilter, Query

from tests.contract.firestore_indexes import Index, covers, needed_index, shipped_indexes
from tests.contract.test_store import interaction, manifest, model
from tuning.records import AuditEntry, ChannelSettings, Correction, JobRecord, Task, utcnow
from tuning.store.base import Store
from tuning.store.firestore.store import FirestoreStore

Drive = Callable[[FirestoreStore], Awaitable[object]]


async def _drain(iterator: Any) -> list[object]:
    return [item async for item in iterator]


def _job(n: int, task: Task) -> JobRecord:
    return JobRecord(
        id=f"j{n}",
        task=task,
        method="sft",
        backend="local",
        created_at=utcnow(),
    )


# Every public Store method, with each combination of the filters that changes the query.
DRIVERS: dict[str, list[Drive]] = {
    "open": [lambda s: s.open()],
    "ping": [lambda s: s.ping()],
    "add_interaction": [
        lambda s: s.add_interaction(interaction(1)),
        lambda s: s.add_interaction(interaction(2)),
    ],
    "update_interaction": [lambda s: s.update_interaction(interaction(1, output="edited"))],
    "get_interaction": [lambda s: s.get_interaction("i00001")],
    "recorded_interactions": [lambda s: s.recorded_interactions(["i00001", "missing"])],
    "find_interaction": [lambda s: s.find_interaction(channel="C1", ts="nothing")],
    "linked_interactions": [lambda s: s.linked_interactions(parent_id="i00001")],
    "iter_interactions": [
        lambda s: _drain(s.iter_interactions()),
        lambda s: _drain(s.iter_interactions(kind="generate")),
        lambda s: _drain(s.iter_interactions(since=utcnow() - timedelta(days=9))),
        lambda s: _drain(s.iter_interactions(kind="classify", since=utcnow() - timedelta(9))),
    ],
    "add_feedback": [
        lambda s: s.add_feedback(interaction_id="i00001", user="U2", reaction="joy", rating=1)
    ],
    "retract_feedback": [
        lambda s: s.retract_feedback(interaction_id="i00001", user="U2", reaction="joy")
    ],
    "iter_feedback": [
        lambda s: _drain(s.iter_feedback()),
        lambda s: _drain(s.iter_feedback(since=utcnow() - timedelta(days=1))),
        lambda s: _drain(s.iter_feedback(interaction_id="i00001", include_retracted=True)),
    ],
    "count_feedback": [
        lambda s: s.count_feedback(),
        lambda s: s.count_feedback(kind="generate"),
        lambda s: s.count_feedback(since=utcnow() - timedelta(days=1)),
        lambda s: s.count_feedback(since=utcnow() - timedelta(days=1), kind="classify"),
    ],
    "add_correction": [lambda s: s.add_correction(Correction("i00001", "U2", "better"))],
    "iter_corrections": [
        lambda s: _drain(s.iter_corrections()),
        lambda s: _drain(s.iter_corrections(since=utcnow() - timedelta(days=1))),
    ],
    "claim": [lambda s: s.claim("k", ttl=timedelta(minutes=1), holder="me")],
    "release": [lambda s: s.release("k", holder="me")],
    "purge_expired": [lambda s: s.purge_expired()],
    "add_model": [
        lambda s: s.add_model(model("v1", age=1)),
        lambda s: s.add_model(model("v2", age=2)),
    ],
    "get_model": [lambda s: s.get_model(task="classifier", version="v1")],
    "list_models": [lambda s: s.list_models(), lambda s: s.list_models(task="classifier")],
    "promote": [
        lambda s: s.promote(task="classifier", version="v1"),
        lambda s: s.promote(task="classifier", version="v2"),
    ],
    "update_model_metrics": [
        lambda s: s.update_model_metrics(task="classifier", version="v1", metrics={"f1": 1.0})
    ],
    "active_model": [lambda s: s.active_model(task="classifier")],
    "active_version": [lambda s: s.active_version(task="classifier")],
    "rollback": [lambda s: s.rollback(task="classifier")],
    "save_job": [
        lambda s: s.save_job(_job(1, "classifier")),
        lambda s: s.save_job(_job(2, "generator")),
    ],
    "get_job": [lambda s: s.get_job("j1")],
    "list_jobs": [lambda s: s.list_jobs(), lambda s: s.list_jobs(task="generator")],
    "running_jobs": [lambda s: s.running_jobs()],
    "get_channel_settings": [lambda s: s.get_channel_settings(channel="C1")],
    "put_channel_settings": [lambda s: s.put_channel_settings(ChannelSettings(channel="C1"))],
    "channel_settings": [lambda s: s.channel_settings(channel="C2")],
    "set_opt_out": [lambda s: s.set_opt_out(user="U9", opted_out=True)],
    "is_opted_out": [lambda s: s.is_opted_out(user="U9")],
    "opted_out_among": [lambda s: s.opted_out_among(["U9", "U1"])],
    "add_audit": [lambda s: s.add_audit(AuditEntry(actor="U1", action="promote", result="ok"))],
    "list_audit": [lambda s: s.list_audit()],
    "forget_user": [lambda s: s.forget_user(user="U1")],
    "purge_before": [lambda s: s.purge_before(utcnow() - timedelta(days=90))],
    "put_manifest": [lambda s: s.put_manifest(manifest("j1"))],
    "get_manifest": [lambda s: s.get_manifest("dataset:j1")],
    "list_manifests": [lambda s: s.list_manifests()],
    "delete_manifest": [lambda s: s.delete_manifest("dataset:j1")],
}
NOT_QUERIES = {"close"}  # closing sends no query


def test_drivers_cover_every_public_store_method() -> None:
    public = {
        name
        for name, member in inspect.getmembers(Store, inspect.isfunction)
        if not name.startswith("_")
    }
    assert set(DRIVERS) | NOT_QUERIES == public


@pytest.mark.emulator
async def test_every_query_the_store_sends_has_its_index(firestore_store: FirestoreStore) -> None:
    sent: list[Any] = []
    api = firestore_store.client._firestore_api
    for method in ("run_query", "run_aggregation_query"):
        original = getattr(api, method)

        def recording(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            request = kwargs["request"]
            query = request.get("structured_query")
            if query is None:
                query = request["structured_aggregation_query"].structured_query
            sent.append(query)
            return _original(*args, **kwargs)

        setattr(api, method, recording)

    for drives in DRIVERS.values():
        for drive in drives:
            await drive(firestore_store)

    shipped = shipped_indexes()
    needed = {
        index
        for query in sent
        if (index := needed_index(query, prefix=firestore_store.prefix)) is not None
    }
    assert len(sent) >= 20  # the recording saw the store's queries
    missing = [n for n in needed if not any(covers(s, n) for s in shipped)]
    assert missing == []
    unused = [s for s in shipped if not any(covers(s, n) for n in needed)]
    assert unused == []


def _query(build: Callable[[Any], Any]) -> Any:
    client = AsyncClient(project="p", credentials=AnonymousCredentials())
    return build(client)._to_protobuf()


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda c: c.collection("audit").order_by("at", direction=Query.DESCENDING), None),
        (
            lambda c: (
                c.collection("feedback")
                .where(filter=FieldFilter("updated_at", ">", 1))
                .order_by("updated_at")
            ),
            None,
        ),
        (
            lambda c: (
                c.collection("interactions")
                .where(filter=FieldFilter("channel", "==", "C"))
                .where(filter=FieldFilter("ts", "==", "1"))
            ),
            None,
        ),
        (
            lambda c: (
                c.collection("jobs")
                .where(filter=FieldFilter("task", "==", "classifier"))
                .order_by("created_at", direction=Query.DESCENDING)
            ),
            Index("jobs", frozenset({"task"}), (("created_at", "DESCENDING"),)),
        ),
        (
            lambda c: (
                c.collection("feedback")
                .where(filter=FieldFilter("retracted", "==", False))
                .where(filter=FieldFilter("updated_at", ">", 1))
            ),
            Index("feedback", frozenset({"retracted"}), (("updated_at", "ASCENDING"),)),
        ),
        (
            lambda c: c.collection("models").order_by("task").order_by("created_at"),
            Index("models", frozenset(), (("task", "ASCENDING"), ("created_at", "ASCENDING"))),
        ),
    ],
)
def test_needed_index(build: Callable[[Any], Any], expected: Index | None) -> None:
    assert needed_index(_query(build)) == expected


def test_an_index_serves_only_its_own_shape() -> None:
    jobs = Index("jobs", frozenset(), (("task", "ASCENDING"), ("created_at", "DESCENDING")))
    by_task = Index("jobs", frozenset({"task"}), (("created_at", "DESCENDING"),))
    assert covers(jobs, by_task)
    assert not covers(jobs, Index("jobs", frozenset({"task"}), (("created_at", "ASCENDING"),)))
    assert not covers(jobs, Index("jobs", frozenset({"state"}), (("created_at", "DESCENDING"),)))
    assert not covers(jobs, Index("audit", frozenset({"task"}), (("created_at", "DESCENDING"),)))
