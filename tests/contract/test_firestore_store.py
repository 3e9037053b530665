"""What only the Firestore store promises: its URL, its TTL field, and broken documents raising."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta

import pytest

from tests.clock import ManualClock
from tests.emulators import FirestoreEmulator, gcloud_available
from tuning.errors import ConfigError, StoreError
from tuning.records import Interaction
from tuning.store import open_store
from tuning.store.firestore.docs import claim_id, doc_id
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
