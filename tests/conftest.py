"""Shared fixtures. Each section belongs to the helper who owns that part; edit only yours."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bot.runtime import BuildTuning
from tests.emulators import EmulatorError, FirestoreEmulator, PubSubEmulator, gcloud_available
from tests.fakes.vertex_server import FakeVertex, start_fake_vertex
from tests.harness import Harness, train_template
from tuning.lifecycle.builder import build_tuning_service
from tuning.models.serving import LiveModels
from tuning.records import Clock, utcnow
from tuning.store.base import Store
from tuning.store.sqlite.store import SqliteStore

if TYPE_CHECKING:  # imported lazily: google.cloud.firestore is slow to import
    from tuning.store.firestore.store import FirestoreStore

# -- store (STORE helper) -------------------------------------------------------------------------

FIRESTORE_TEST_PROJECT = "sarcasm-bot-test"


def _emulator(emulator: FirestoreEmulator, name: str, variable: str) -> Iterator[str]:
    """Start ``emulator`` for the session with ``variable`` set to its host; stop it after.

    Skips only where gcloud is absent: if gcloud is there and it does not start, tests fail.
    """
    if not gcloud_available():
        pytest.skip(f"gcloud (with Java) is not on PATH, so the {name} emulator cannot run")
    try:
        host = emulator.start()
    except EmulatorError as exc:
        pytest.fail(f"gcloud is installed but the {name} emulator did not start: {exc}")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(variable, host)
        try:
            yield host
        finally:
            emulator.__exit__(None, None, None)


@pytest.fixture(scope="session")
def firestore_emulator() -> Iterator[str]:
    """Run the real Firestore emulator for the session; yield ``host:port``.

    Also sets FIRESTORE_EMULATOR_HOST for the session. Skips only where gcloud is absent: if
    gcloud is there and the emulator does not start, the test fails.
    """
    yield from _emulator(FirestoreEmulator(), "Firestore", "FIRESTORE_EMULATOR_HOST")


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


# -- work queue (QUEUE helper) -------------------------------------------------------------------


@pytest.fixture(scope="session")
def pubsub_emulator() -> Iterator[str]:
    """Run the real Pub/Sub emulator for the session; yield ``host:port``.

    Also sets PUBSUB_EMULATOR_HOST, which the SDK's clients honour. Skips only where gcloud is
    absent: if gcloud is there and the emulator does not start, the test fails.
    """
    yield from _emulator(PubSubEmulator(), "Pub/Sub", "PUBSUB_EMULATOR_HOST")


# -- the bot end to end (WIRING helper): tests/harness.py ----------------------------------------


@pytest.fixture(scope="session")
def bot_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Train the seed models once per session; each bot test copies the store from here."""
    root = tmp_path_factory.mktemp("bot-template")
    asyncio.run(train_template(root))
    return root


@pytest.fixture
def bot_env() -> Mapping[str, str]:
    """Return more settings for the bots under test; a test directory or module overrides it."""
    return {}


@pytest.fixture
def build_tuning() -> BuildTuning:
    """Return how the bots build their tuning service; tests override it for other backends."""
    return build_tuning_service


@pytest.fixture
async def harness(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    bot_template: Path,
    bot_env: Mapping[str, str],
    build_tuning: BuildTuning,
) -> AsyncIterator[Harness]:
    """Start the workspace and one bot (``start_bot``) on a fresh copy of the trained store.

    Parametrize indirectly with a LiveModels subclass to change how the models behave.
    """
    models_cls: type[LiveModels] = getattr(request, "param", LiveModels)
    h = await Harness.start(
        tmp_path,
        template=bot_template,
        models_cls=models_cls,
        env=bot_env,
        build_tuning=build_tuning,
    )
    try:
        yield h
    finally:
        await h.stop()
