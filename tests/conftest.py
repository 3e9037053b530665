"""Shared fixtures. Each section belongs to the helper who owns that part; edit only yours."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.emulators import EmulatorError, FirestoreEmulator, gcloud_available
from tests.fakes.vertex_server import FakeVertex, start_fake_vertex
from tuning.records import Clock, utcnow
from tuning.store.base import Store
from tuning.store.sqlite.store import SqliteStore

if TYPE_CHECKING:  # imported lazily: google.cloud.firestore is slow to import
    from tuning.store.firestore.store import FirestoreStore

# -- store (STORE helper) -------------------------------------------------------------------------

FIRESTORE_TEST_PROJECT = "sarcasm-bot-test"


@pytest.fixture(scope="session")
def firestore_emulator() -> Iterator[str]:
    """Run the real Firestore emulator for the session; yield ``host:port``.

    Also sets FIRESTORE_EMULATOR_HOST for the session. Skips only where gcloud is absent: if
    gcloud is there and the emulator does not start, the test fails.
    """
    if not gcloud_available():
        pytest.skip("gcloud (with Java) is not on PATH, so the Firestore emulator cannot run")
    emulator = FirestoreEmulator()
    try:
        host = emulator.start()
    except EmulatorError as exc:
        pytest.fail(f"gcloud is installed but the Firestore emulator did not start: {exc}")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FIRESTORE_EMULATOR_HOST", host)
        try:
            yield host
        finally:
            emulator.__exit__(None, None, None)


@pytest.fixture
def clock() -> Clock:
    """Return the clock the store fixtures read: the real one, unless a suite overrides this.

    Override it with a ``tests.clock.ManualClock`` to move time on instead of sleeping.
    """
    return utcnow


@pytest.fixture
async def sqlite_store(tmp_path: Path, clock: Clock) -> AsyncIterator[SqliteStore]:
    """Yield an opened, empty SqliteStore in a fresh file."""
    # Small pages, so that paging gets tested.
    store = SqliteStore(tmp_path / "store.db", page_size=50, clock=clock)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def firestore_store(firestore_emulator: str, clock: Clock) -> AsyncIterator[FirestoreStore]:
    """Yield an opened FirestoreStore on the emulator, empty (its own collection prefix)."""
    from google.cloud.firestore import AsyncClient

    from tuning.store.firestore.store import FirestoreStore

    client = AsyncClient(project=FIRESTORE_TEST_PROJECT)
    store = FirestoreStore(client, prefix=f"t{uuid.uuid4().hex[:12]}_", clock=clock)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture(params=["sqlite", pytest.param("firestore", marks=pytest.mark.emulator)])
def store(request: pytest.FixtureRequest) -> Store:
    """Return an opened, empty store of each implementation in turn (closed after the test)."""
    fixture: Store = request.getfixturevalue(f"{request.param}_store")
    return fixture


@pytest.fixture
async def fake_vertex() -> AsyncIterator[FakeVertex]:
    """Run the fake Vertex AI REST server on a free loopback port."""
    fake = FakeVertex()
    runner = await start_fake_vertex(fake)
    yield fake
    await runner.cleanup()
