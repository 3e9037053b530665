"""What only the SQLite store promises: several processes on one file, odd text, bad paths."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.clock import ManualClock
from tests.contract.racing import race
from tuning.errors import ConfigError, StoreError
from tuning.queue.base import WorkItem
from tuning.queue.sqlite import SqliteQueue
from tuning.records import Interaction, Manifest
from tuning.store import open_store
from tuning.store.sqlite.schema import MIGRATIONS, _statements
from tuning.store.sqlite.store import SqliteStore

CLAIMER = textwrap.dedent(
    """
    import asyncio, json, random, sys, time
    from datetime import timedelta
    from tuning.store.sqlite.store import SqliteStore

    async def main(path, start, name):
        store = SqliteStore(path)
        await store.open()
        keys = list(range(200))
        random.Random(name).shuffle(keys)  # different orders, so the processes collide often
        while time.time() < start:  # both processes begin together
            time.sleep(0.001)
        won = []
        for k in keys:
            if await store.claim(f"event:{k}", ttl=timedelta(hours=1), holder=name):
                won.append(k)
            # Pace the claims so that neither process can take all 200 while the other sleeps
            # in SQLite's busy handler: the test must race, or it proves nothing.
            await asyncio.sleep(0.002)
        await store.close()
        print(json.dumps(won))

    asyncio.run(main(sys.argv[1], float(sys.argv[2]), sys.argv[3]))
    """
)


def test_two_processes_claiming_the_same_keys_win_each_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    results = race(CLAIMER, path)
    assert sorted(results[0] + results[1]) == list(range(200))
    assert results[0], "process b won every key: they never overlapped"
    assert results[1], "process a won every key: they never overlapped"


async def _round_trip(path: Path, text: str) -> Interaction | None:
    store = SqliteStore(path)
    try:
        item = Interaction(
            id=text[:40] or "empty-id",
            team="T",
            channel=text[:10],
            ts="1.1",
            kind="generate",
            input_text=text,
            output=text[::-1],
            model_version="v",
            user=text[:5],
        )
        if await store.get_interaction(item.id) is None:
            await store.add_interaction(item)
        else:  # hypothesis repeats prefixes, and so ids
            await store.update_interaction(item)
        got = await store.get_interaction(item.id)
        assert got == item
        return got
    finally:
        await store.close()


def test_any_unicode_text_round_trips(tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("unicode") / "store.db"
    weird = st.characters(exclude_categories=["Cs"])  # lone surrogates are not text

    @settings(max_examples=60, deadline=None)
    @given(text=st.text(weird, max_size=300))
    @example(text="🙃" * 40_000)
    @example(text="a\x00b\u202e\ufeff\U0010ffff 'quotes' \"; DROP TABLE interactions; --")
    @example(text="")
    def check(text: str) -> None:
        asyncio.run(_round_trip(path, text))

    check()


@pytest.mark.parametrize("kind", ["parent-is-a-file", "proc"])
async def test_unwritable_path_fails_with_one_line_naming_store_url(
    tmp_path: Path, kind: str
) -> None:
    # Tests run as root, where chmod does not stop writes; use paths that even root cannot write.
    if kind == "parent-is-a-file":
        (tmp_path / "afile").write_text("not a directory")
        path = tmp_path / "afile" / "sub" / "store.db"
    else:
        path = Path("/proc/sarcasm-bot-test/store.db")
    with pytest.raises(StoreError) as caught:
        await open_store(f"sqlite:///{path}")
    message = str(caught.value)
    assert message.startswith(f"STORE_URL: cannot write sqlite database at {path} (")
    assert "\n" not in message
    assert not path.exists()
    assert not path.parent.exists()
    if kind == "parent-is-a-file":
        assert (tmp_path / "afile").read_text() == "not a directory"


async def test_unwritable_file_in_proc_fails_cleanly() -> None:
    with pytest.raises(
        StoreError, match=r"^STORE_URL: cannot write sqlite database at /proc/x\.db"
    ):
        await open_store("sqlite:////proc/x.db")


async def test_a_file_that_is_not_a_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"my precious notes, not a database" * 100)
    with pytest.raises(StoreError) as caught:
        await open_store(f"sqlite:///{path}")
    assert str(caught.value) == (
        f"STORE_URL: cannot open sqlite database at {path} (file is not a database)"
    )
    assert path.read_bytes() == b"my precious notes, not a database" * 100


async def test_open_store_creates_directory_and_rejects_unknown_scheme(
    tmp_path: Path, clock: ManualClock
) -> None:
    store = await open_store(f"sqlite:///{tmp_path}/new/dir/store.db", clock=clock)
    try:
        assert await store.ping()
        assert await store.claim("lease", ttl=timedelta(seconds=1))
        clock.advance(timedelta(seconds=1))  # the store reads the clock it was opened with
        assert await store.claim("lease", ttl=timedelta(seconds=1))
    finally:
        await store.close()
    assert (tmp_path / "new" / "dir" / "store.db").is_file()
    with pytest.raises(ConfigError, match=r"^STORE_URL: unsupported scheme 'mysql'"):
        await open_store("mysql://localhost/db")


async def test_schema_is_versioned_and_newer_schema_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = SqliteStore(path)
    await store.open()
    await store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(StoreError, match="newer than this code"):
        await open_store(f"sqlite:///{path}")


async def test_upgrading_a_database_makes_each_actor_the_author_of_what_it_stored(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.db"
    with sqlite3.connect(path) as conn:  # a database written before authors were stored
        for script in MIGRATIONS[:3]:
            for statement in _statements(script):
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 3")
        conn.execute(
            "INSERT INTO interactions (id, team, channel, ts, kind, input_text, output, "
            "model_version, user, candidates, created_at) VALUES ('i1', 'T', 'C', '1.1', "
            "'generate', 'x', 'y', 'v', 'U1', '[]', '2026-01-01T00:00:00.000000+00:00')"
        )
    store = SqliteStore(path)
    await store.open()
    try:
        stored = await store.get_interaction("i1")
        assert stored is not None
        assert (stored.user, stored.author) == ("U1", "U1")
        assert (await store.forget_user(user="U1")).record_ids == {"i1"}
    finally:
        await store.close()


async def test_a_damaged_manifest_raises_store_error(sqlite_store: SqliteStore) -> None:
    await sqlite_store.put_manifest(Manifest(id="dataset:j1", kind="dataset", task="classifier"))
    with sqlite3.connect(sqlite_store.path) as conn:
        conn.execute("UPDATE manifests SET record_ids = x'00ff' WHERE id = 'dataset:j1'")
    with pytest.raises(StoreError, match="manifest record ids are malformed"):
        await sqlite_store.get_manifest("dataset:j1")


async def test_corrupted_json_raises_store_error(sqlite_store: SqliteStore) -> None:
    item = Interaction(
        id="i1",
        team="T",
        channel="C",
        ts="1.1",
        kind="generate",
        input_text="x",
        output="y",
        model_version="v",
    )
    await sqlite_store.add_interaction(item)
    with sqlite3.connect(sqlite_store.path) as conn:
        conn.execute("UPDATE interactions SET candidates = '[{\"text\": ' WHERE id = 'i1'")
        conn.execute("INSERT INTO jobs VALUES ('j1', 'classifier', 'QUEUED', 'x', '{}')")
    with pytest.raises(StoreError, match="stored interaction 'i1' is malformed"):
        await sqlite_store.get_interaction("i1")
    with pytest.raises(StoreError, match="stored interaction 'i1' is malformed"):
        await sqlite_store.find_interaction(channel="C", ts="1.1")
    with pytest.raises(StoreError, match="malformed"):
        await sqlite_store.list_jobs()


OPENER = textwrap.dedent(
    """
    import asyncio, sys, time
    from tuning.store.sqlite.store import SqliteStore

    async def main(path, start):
        store = SqliteStore(path)
        while time.time() < start:  # every process opens the new file at the same moment
            time.sleep(0.0005)
        await store.open()
        await store.close()

    asyncio.run(main(sys.argv[1], float(sys.argv[2])))
    """
)


@pytest.mark.slow
def test_replicas_starting_together_on_a_new_file_all_open_it(tmp_path: Path) -> None:
    """Switching a new file to WAL races between processes; every one must still open it."""
    failures = []
    for round_ in range(6):
        path, start = tmp_path / f"new-{round_}.db", time.time() + 1.0
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", OPENER, str(path), str(start)],
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        for worker in workers:
            _, err = worker.communicate(timeout=120)
            if worker.returncode:
                failures.append(err.strip().splitlines()[-1])
    assert failures == []


def _count_in_another_process(path: Path) -> int:
    """Open the file in a new process, count the interactions, close it (the last connection)."""
    code = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
        "print(c.execute('SELECT count(*) FROM interactions').fetchone()[0]); c.close()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    )
    return int(done.stdout)


def _row(id: str) -> Interaction:
    return Interaction(
        id=id,
        team="T",
        channel="C",
        ts=id,
        kind="generate",
        input_text="hi",
        output="Sure.",
        model_version="v0",
    )


async def test_opening_a_second_store_on_the_file_keeps_the_first_ones_writes_visible(
    tmp_path: Path,
) -> None:
    # A second open used to open and close the file to test it, which dropped the first
    # connection's POSIX locks: the next process to close took itself for the last one and
    # deleted the WAL the first connection went on writing to, so its writes were lost.
    path = tmp_path / "store.db"
    first = await open_store(f"sqlite:///{path}")
    await first.add_interaction(_row("a"))
    second = await open_store(f"sqlite:///{path}")
    await second.close()
    assert await asyncio.to_thread(_count_in_another_process, path) == 1
    await first.add_interaction(_row("b"))
    assert await asyncio.to_thread(_count_in_another_process, path) == 2
    await first.close()


async def test_forget_me_leaves_no_text_readable_in_the_files(tmp_path: Path) -> None:
    """Deleted rows are zeroed and the write-ahead log emptied: the bytes are gone too.

    The work queue shares the file by default, and a done item's payload (a Slack body with
    the text) is cleared when it is done: its old page must not survive in the log either.
    """
    path = tmp_path / "store.db"
    store, queue = SqliteStore(path), SqliteQueue(path)
    await store.open()
    try:
        for n in range(50):
            author = "U1" if n % 2 else "U2"
            text = f"QUOKKAFLUX {author} said {n} " + "x" * 300
            await store.add_interaction(
                Interaction(
                    id=f"i{n}", team="T", channel="C", ts=f"{n}.0", kind="generate",
                    input_text=text, output="Sure.", model_version="v", user=author,
                )
            )  # fmt: skip
            await queue.put(WorkItem(key=f"k{n}", kind="mention", payload={"text": text}))
        while leases := await queue.lease(limit=10, ttl=timedelta(minutes=1), holder="t"):
            for lease in leases:
                await queue.done(lease)
        assert _count(tmp_path, b"QUOKKAFLUX U1") > 0
        erased = await store.forget_user(user="U1")
        assert erased.interactions == 25
        assert _count(tmp_path, b"QUOKKAFLUX U1") == 0
        assert [i.author async for i in store.iter_interactions()] == ["U2"] * 25
    finally:
        await queue.close()
        await store.close()


def _count(folder: Path, needle: bytes) -> int:
    return sum(f.read_bytes().count(needle) for f in folder.glob("store.db*"))
