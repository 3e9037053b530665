"""What only the Firestore store promises: its URL, its TTL field, and broken documents raising."""

from __future__ import annotations

import random
import socket
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.clock import START, ManualClock
from tests.emulators import FirestoreEmulator, gcloud_available
from tuning.errors import ConfigError, StoreError
from tuning.records import Correction, Interaction, Manifest
from tuning.store import codec, open_store
from tuning.store.firestore.docs import claim_id, doc_id
from tuning.store.firestore.docs import encode_time as enc
from tuning.store.firestore.store import FirestoreStore

pytestmark = pytest.mark.emulator


@pytest.mark.skipif(not gcloud_available(), reason="gcloud (with Java) is not on PATH")
def test_emulator_helper_stops_the_java_server_too() -> None:
    emulator = FirestoreEmulator()
    with emulator as host:
        socket.create_connection(("127.0.0.1", emulator.port), timeout=5).close()
        assert host == f"127.0.0.1:{emulator.port}"
    # gcloud -> shell script -> java: only stopping the whole group frees the port.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", emulator.port), timeout=5).close()


def test_from_url_reads_project_and_database(firestore_emulator: str) -> None:
    store = FirestoreStore.from_url("firestore://my-project/other-db")
    assert store.client.project == "my-project"
    assert store.client._database == "other-db"
    assert FirestoreStore.from_url("firestore://my-project").client._database == "(default)"
    with pytest.raises(ConfigError, match=r"^STORE_URL: "):
        FirestoreStore.from_url("firestore:///nodb")


async def test_open_store_on_the_emulator(firestore_emulator: str, clock: ManualClock) -> None:
    store = await open_store("firestore://sarcasm-bot-test", clock=clock)
    try:
        assert await store.ping()
        assert store.clock is clock
    finally:
        await store.close()


async def test_open_store_passes_the_retention_on(firestore_emulator: str) -> None:
    store = await open_store("firestore://sarcasm-bot-test", retention=timedelta(days=7))
    try:
        assert isinstance(store, FirestoreStore)
        assert store.retention == timedelta(days=7)
    finally:
        await store.close()


async def test_claims_carry_a_timestamp_ttl_field(
    firestore_store: FirestoreStore, clock: ManualClock
) -> None:
    assert await firestore_store.claim("event:E1", ttl=timedelta(minutes=5), holder="me")
    ref = firestore_store._col("claims").document(claim_id("event:E1"))
    raw = await ref.get()
    assert isinstance(raw.get("expires_at"), datetime)
    assert raw.get("expires_at") == clock() + timedelta(minutes=5)
    assert raw.get("holder") == "me"
    # The TTL policy deletes expired claims only eventually: reads must not wait for it.
    clock.advance(timedelta(minutes=5))
    assert (await ref.get()).exists
    assert await firestore_store.claim("event:E1", ttl=timedelta(minutes=5), holder="you")
    assert (await ref.get()).get("holder") == "you"


async def test_ids_that_are_not_document_ids_still_round_trip(
    firestore_store: FirestoreStore,
) -> None:
    for raw in ("C1/1700000000.1", "__reserved__", "..", "x" * 2000):
        item = Interaction(
            id=raw,
            team="T",
            channel="C",
            ts=raw[:20],
            kind="generate",
            input_text="in",
            output="out",
            model_version="v",
        )
        await firestore_store.add_interaction(item)
        assert await firestore_store.get_interaction(raw) == item
        assert doc_id(raw).startswith("sha256-")


async def test_broken_document_raises_store_error(firestore_store: FirestoreStore) -> None:
    await (
        firestore_store._col("interactions")
        .document("i1")
        .set({"id": "i1", "team": "T", "channel": "C", "ts": "1.1", "candidates": "oops"})
    )
    with pytest.raises(StoreError, match="stored interaction 'i1' is malformed"):
        await firestore_store.get_interaction("i1")
    await firestore_store._col("jobs").document("j1").set({"id": "j1", "created_at": 5})
    with pytest.raises(StoreError, match="stored job 'j1' is malformed"):
        await firestore_store.list_jobs()


def _message(n: int, **changes: object) -> Interaction:
    fields: dict[str, object] = {
        "id": f"i{n}",
        "team": "T",
        "channel": "C",
        "ts": f"1.{n}",
        "kind": "generate",
        "input_text": "in",
        "output": "out",
        "model_version": "v",
        "user": "U1",
        "created_at": START,
    }
    fields.update(changes)
    return Interaction(**fields)  # type: ignore[arg-type]


async def test_records_carry_expires_at_for_their_ttl_policies(
    firestore_store: FirestoreStore, clock: ManualClock
) -> None:
    retention = timedelta(days=90)
    kept = FirestoreStore(
        firestore_store.client, prefix=firestore_store.prefix, clock=clock, retention=retention
    )
    created = clock() - timedelta(days=3)
    await kept.add_interaction(_message(1, created_at=created))
    await kept.add_feedback(interaction_id="i1", user="U2", reaction="joy", rating=1)
    await kept.add_correction(Correction("i1", "U2", "better", created_at=created))
    await kept.update_interaction(_message(1, created_at=created, output="edited"))
    raw = {
        name: (await snapshot_of(firestore_store, name)).to_dict() or {}
        for name in ("interactions", "feedback", "corrections")
    }
    assert raw["interactions"]["expires_at"] == created + retention
    assert raw["feedback"]["expires_at"] == clock() + retention  # stamped by the store clock
    assert raw["corrections"]["expires_at"] == created + retention
    assert all(isinstance(doc["expires_at"], datetime) for doc in raw.values())
    # Without a retention, nothing expires.
    await firestore_store.add_interaction(_message(2))
    plain = await firestore_store._doc("interactions", "i2").get()
    assert "expires_at" not in (plain.to_dict() or {})


async def snapshot_of(store: FirestoreStore, collection: str) -> Any:
    """Return the one document of ``collection`` (raw, as the emulator holds it)."""
    [snapshot] = await store._col(collection).get()
    return snapshot


async def test_a_document_from_before_authors_is_the_actors_own(
    firestore_store: FirestoreStore,
) -> None:
    old = {**codec.interaction_to_dict(_message(1), enc)}
    del old["author"]
    await firestore_store._col("interactions").document("i1").set(old)
    await firestore_store.add_interaction(_message(2, user="U1", author="U2"))
    stored = await firestore_store.get_interaction("i1")
    assert stored is not None
    assert stored.author == "U1"
    erased = await firestore_store.forget_user(user="U1")
    assert erased.record_ids == {"i1"}
    assert await firestore_store.get_interaction("i2") == _message(2, user="", author="U2")


async def test_record_ids_too_big_for_one_document_span_parts(
    firestore_store: FirestoreStore,
) -> None:
    # Random ids barely compress: this blob needs several ~900 KB documents.
    rng = random.Random(7)
    ids = frozenset(f"i{rng.getrandbits(128):032x}" for _ in range(200_000))
    big = Manifest(id="dataset:big", kind="dataset", task="classifier", record_ids=ids)
    await firestore_store.put_manifest(big)
    parts = firestore_store._col("manifest_parts")
    assert len(await parts.get()) >= 2
    assert await firestore_store.get_manifest("dataset:big") == big
    assert await firestore_store.list_manifests() == [big]

    small = replace(big, record_ids=frozenset({"i1"}))
    await firestore_store.put_manifest(small)
    assert await parts.get() == []
    assert await firestore_store.get_manifest("dataset:big") == small
    await firestore_store.put_manifest(big)
    await firestore_store.delete_manifest("dataset:big")
    assert await parts.get() == []
    assert await firestore_store.get_manifest("dataset:big") is None


async def test_a_manifest_whose_parts_do_not_match_is_not_returned(
    firestore_store: FirestoreStore,
) -> None:
    rng = random.Random(8)
    ids = frozenset(f"i{rng.getrandbits(128):032x}" for _ in range(100_000))
    await firestore_store.put_manifest(
        Manifest(id="dataset:big", kind="dataset", task="classifier", record_ids=ids)
    )
    parts = await firestore_store._col("manifest_parts").get()
    await parts[0].reference.update({"record_ids": b"torn"})
    with pytest.raises(StoreError, match="keeps changing"):
        await firestore_store.get_manifest("dataset:big")
