"""ModelProcesses: the local models in child processes, as the thread path computes them."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from multiprocessing.process import BaseProcess
from pathlib import Path

import pytest

from tuning.config import Settings
from tuning.datasets.basedata import load_seed_messages, load_seed_pairs
from tuning.errors import ModelError
from tuning.models.builders import build_classifier, build_generator, register
from tuning.models.local_classifier import LocalClassifier
from tuning.models.local_generator import LocalGenerator
from tuning.models.processes import ModelProcesses, PooledClassifier, PooledGenerator
from tuning.models.ranking import best_replies
from tuning.models.reward import rank
from tuning.models.serving import LiveModels
from tuning.records import ModelVersion
from tuning.store.base import Store

TEXTS = [
    "Oh great, another Monday.",
    "The meeting moved to 3pm.",
    "I just love it when the build breaks on Friday.",
    "",
    "x" * 10_000,
]


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> list[ModelVersion]:
    """Build two real classifier versions, each in its own artifact directory."""
    data_dir = tmp_path_factory.mktemp("classifiers")
    seed = load_seed_messages()
    return [
        build_classifier(data_dir, seed, cv_folds=0),
        build_classifier(data_dir, seed[: len(seed) // 2], cv_folds=0),
    ]


@pytest.fixture
async def processes() -> AsyncIterator[ModelProcesses]:
    pool = ModelProcesses(1)
    try:
        yield pool
    finally:
        await pool.close()


def children() -> list[BaseProcess]:
    return multiprocessing.active_children()


async def test_the_process_path_predicts_as_the_thread_path(
    versions: list[ModelVersion], processes: ModelProcesses
) -> None:
    directory = Path(versions[0].artifact)
    local = LocalClassifier.load(directory)
    pooled = PooledClassifier(local, directory=directory, processes=processes)
    in_thread = await local.classify(TEXTS)
    in_child = await pooled.classify(TEXTS)
    assert [p.label for p in in_child] == [p.label for p in in_thread]
    assert [p.probability for p in in_child] == pytest.approx([p.probability for p in in_thread])
    assert [p.text for p in in_child] == TEXTS
    assert len(children()) == 1  # computed in the child (the thread path starts none)
    assert await pooled.classify([]) == []


async def test_a_killed_child_fails_its_call_and_the_next_call_starts_a_new_one(
    versions: list[ModelVersion], processes: ModelProcesses
) -> None:
    directory = Path(versions[0].artifact)
    expected = LocalClassifier.load(directory).probabilities(TEXTS)
    await processes.warm(directory)
    [child] = children()
    os.kill(child.pid or 0, signal.SIGKILL)
    child.join()
    with pytest.raises(ModelError, match="a model process died"):
        await processes.probabilities(directory, TEXTS)
    assert await processes.probabilities(directory, TEXTS) == pytest.approx(expected)
    [new_child] = children()
    assert new_child.pid != child.pid


async def test_close_stops_the_children_and_refuses_later_calls(
    versions: list[ModelVersion],
) -> None:
    processes = ModelProcesses(2)
    directory = Path(versions[0].artifact)
    await processes.warm(directory)
    assert len(children()) == 2
    await processes.close()
    assert children() == []
    with pytest.raises(ModelError, match="shut down"):
        await processes.probabilities(directory, TEXTS)


async def test_live_models_serve_from_processes_and_follow_a_promotion(
    sqlite_store: Store, tmp_path: Path, versions: list[ModelVersion]
) -> None:
    settings = Settings(data_dir=tmp_path / "data", model_processes=1)
    first, second = versions
    await register(sqlite_store, first, promote=True)
    live = await LiveModels.start(settings=settings, store=sqlite_store)
    try:
        assert live.versions["classifier"] == first.version
        assert len(children()) == 1
        old = LocalClassifier.load(Path(first.artifact)).probabilities(TEXTS)
        assert [p.probability for p in await live.classify(TEXTS)] == pytest.approx(old)
        await register(sqlite_store, second, promote=True)
        assert await live.refresh() is True
        assert live.versions["classifier"] == second.version
        # The child loads the new version by its own path: it serves the new model's numbers.
        served = [p.probability for p in await live.classify(TEXTS)]
        new = LocalClassifier.load(Path(second.artifact)).probabilities(TEXTS)
        assert new != pytest.approx(old)
        assert served == pytest.approx(new)
    finally:
        await live.close()
    assert children() == []


PARENT = """
import asyncio, os, sys
from pathlib import Path
from tuning.models.processes import ModelProcesses

async def main():
    processes = ModelProcesses(1)
    await processes.warm(Path(sys.argv[1]))
    import multiprocessing
    [child] = multiprocessing.active_children()
    print(child.pid, flush=True)
    os._exit(9)  # as SIGKILL would: no shutdown, no atexit

asyncio.run(main())
"""


def running(pid: int) -> bool:
    """Return whether ``pid`` is a live process (a zombie no one reaped is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@pytest.mark.slow
def test_a_child_exits_when_its_parent_dies_without_closing_the_pool(
    versions: list[ModelVersion], tmp_path: Path
) -> None:
    out, err = tmp_path / "child.pid", tmp_path / "stderr"
    # Files, not pipes: a child that outlived its parent would hold a pipe open (run waits).
    with out.open("w") as stdout, err.open("w") as stderr:
        parent = subprocess.run(
            [sys.executable, "-c", PARENT, versions[0].artifact],
            stdout=stdout,
            stderr=stderr,
            check=False,
            timeout=120,
        )
    assert parent.returncode == 9, err.read_text()
    child = int(out.read_text())
    deadline = time.monotonic() + 30  # the child looks for its parent every second
    while running(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not running(child)


def test_a_pool_needs_a_process() -> None:
    with pytest.raises(ValueError, match="at least one"):
        ModelProcesses(0)


async def test_the_process_path_writes_and_ranks_replies_as_the_thread_path(
    tmp_path: Path, processes: ModelProcesses
) -> None:
    # A generator's drafting and ranking are the heaviest model work a mention asks for.
    version = build_generator(tmp_path, load_seed_pairs())
    directory = Path(version.artifact)
    local = LocalGenerator.load(directory)
    pooled = PooledGenerator(local, directory=directory, processes=processes)
    prompt, shown = "is the build green again?", ["Oh sure, greener than ever."]
    assert pooled.version == local.version
    assert await pooled.pool(prompt, size=12, exclude=shown) == local.pool(
        prompt, size=12, exclude=shown
    )
    assert await pooled.generate(prompt, n=3, exclude=shown) == await local.generate(
        prompt, n=3, exclude=shown
    )
    for sarcasm in (None, [0.9] * 12):
        texts = local.pool(prompt, size=12)
        assert await pooled.rank(prompt, texts, sarcasm, n=3) == rank(
            local.reward, prompt, texts, sarcasm, n=3
        )
    # Served replies go through the same ranking either way.
    assert await best_replies(pooled, None, prompt, n=3) == await best_replies(
        local, None, prompt, n=3
    )
    assert len(children()) == 1
