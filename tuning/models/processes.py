"""Run the local models in child processes, so model work does not hold the serving GIL.

Threads share one GIL: while a thread vectorizes a batch of texts, the event loop waits for it
before every socket read and queue put, and the acks slow down. :class:`ModelProcesses` runs
``MODEL_PROCESSES`` spawned children instead. Each loads a classifier or a generator from its
artifact directory once and keeps it by path (a promoted version is a new directory, so a child
never serves a stale one); texts go in, and floats, texts or candidates come out. A generator's
drafting and its reward model's ranking are the heaviest of all: a mention's reply held the
acks of a burst for tens of milliseconds when they ran in a thread (bench/bench_events.py).

A child that dies (killed, out of memory) breaks the pool: the calls in flight raise ModelError,
so the worker retries their items, and the next call starts a new pool. Children run at a lower
CPU priority than the serving process (niceness 10), ignore SIGINT and SIGTERM (the parent
decides when they stop: :meth:`ModelProcesses.close`), and exit by themselves if the parent dies
without closing them.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TypeVar

from tuning.errors import ModelError
from tuning.models.local_classifier import LocalClassifier
from tuning.models.local_generator import LocalGenerator
from tuning.models.reward import RewardModel, rank
from tuning.records import Candidate, Prediction

CHILD_NICENESS = 10
KEEP_LOADED = 2  # the active version and the one just swapped out (its last calls)
ORPHAN_CHECK_SECONDS = 1.0
WARM_UP_TEXT = "warm up"

# In a child: its models, by artifact directory.
_classifiers: dict[str, LocalClassifier] = {}
_generators: dict[str, LocalGenerator] = {}
M = TypeVar("M")
T = TypeVar("T")


def _child_started(parent: int) -> None:
    """Set up a child: leave signals to the parent, and exit if the parent is gone."""
    # Below the serving process: on a machine of few cores the children take the CPU the event
    # loop leaves, instead of slowing the acks (bench/bench_events.py, the burst load).
    os.nice(CHILD_NICENESS)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

    def watch() -> None:
        # A parent killed with SIGKILL never shuts the pool down; its children must not linger.
        while os.getppid() == parent:
            time.sleep(ORPHAN_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


def _cached(cache: dict[str, M], directory: str, load: Callable[[Path], M]) -> M:
    model = cache.get(directory)
    if model is None:
        while len(cache) >= KEEP_LOADED:
            del cache[next(iter(cache))]
        model = cache[directory] = load(Path(directory))
    return model


def child_probabilities(directory: str, texts: list[str]) -> list[float]:
    """Return the sarcasm probabilities of the classifier saved in ``directory`` (in a child)."""
    return _cached(_classifiers, directory, LocalClassifier.load).probabilities(texts)


def child_pool(directory: str, prompt: str, size: int, exclude: list[str]) -> list[str]:
    """Return the candidate texts of the generator saved in ``directory`` (in a child)."""
    generator = _cached(_generators, directory, LocalGenerator.load)
    return generator.pool(prompt, size=size, exclude=exclude)


def child_rank(
    directory: str, prompt: str, texts: list[str], sarcasm: list[float] | None, n: int
) -> list[Candidate]:
    """Return the ``n`` best of ``texts`` by the reward model saved in ``directory``."""
    generator = _cached(_generators, directory, LocalGenerator.load)
    return rank(generator.reward, prompt, texts, sarcasm, n=n)


def child_candidates(directory: str, prompt: str, n: int, exclude: list[str]) -> list[Candidate]:
    """Return the generator's ``n`` best candidates, as LocalGenerator.candidates (in a child)."""
    generator = _cached(_generators, directory, LocalGenerator.load)
    return generator.candidates(prompt, n=n, exclude=exclude)


class ModelProcesses:
    """A pool of spawned child processes that run local classifiers, rebuilt when one dies."""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"need at least one process, not {workers}")
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None
        self._closed = False

    def _pool(self) -> ProcessPoolExecutor:
        if self._closed:
            raise ModelError("the model processes are shut down")
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                self.workers,
                # spawn: a fork of a process with threads and an event loop is not safe.
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_child_started,
                initargs=(os.getpid(),),
            )
        return self._executor

    async def _call(self, function: Callable[..., T], *args: object) -> T:
        """Return ``function(*args)`` computed in a child.

        Raise ModelError if a child died during the call (the next call starts new ones).
        """
        executor = self._pool()
        try:
            return await asyncio.wrap_future(executor.submit(function, *args))
        except BrokenProcessPool as exc:
            if self._executor is executor:
                self._executor = None
                executor.shutdown(wait=False, cancel_futures=True)
            raise ModelError(f"a model process died: {exc}") from exc

    async def probabilities(self, directory: Path, texts: Sequence[str]) -> list[float]:
        """Return the sarcasm probability of each text from the classifier in ``directory``."""
        return await self._call(child_probabilities, str(directory), list(texts))

    async def pool(
        self, directory: Path, prompt: str, *, size: int, exclude: Collection[str] = ()
    ) -> list[str]:
        """Return up to ``size`` candidate texts from the generator in ``directory``."""
        return await self._call(child_pool, str(directory), prompt, size, list(exclude))

    async def rank(
        self,
        directory: Path,
        prompt: str,
        texts: Sequence[str],
        sarcasm: Sequence[float] | None,
        *,
        n: int,
    ) -> list[Candidate]:
        """Return the ``n`` best of ``texts`` by the generator's reward model, best first."""
        scores = None if sarcasm is None else list(sarcasm)
        return await self._call(child_rank, str(directory), prompt, list(texts), scores, n)

    async def candidates(
        self, directory: Path, prompt: str, *, n: int, exclude: Collection[str] = ()
    ) -> list[Candidate]:
        """Return the generator's ``n`` best candidates not in ``exclude``, best first."""
        return await self._call(child_candidates, str(directory), prompt, n, list(exclude))

    async def warm(self, directory: Path, *, generator: bool = False) -> None:
        """Load the classifier (or ``generator``) in ``directory`` into every child first."""
        loads: list[Awaitable[object]] = [
            self.pool(directory, WARM_UP_TEXT, size=1)
            if generator
            else self.probabilities(directory, [WARM_UP_TEXT])
            for _ in range(self.workers)
        ]
        await asyncio.gather(*loads)

    async def close(self) -> None:
        """Stop the children (work not started is cancelled); later calls raise ModelError."""
        self._closed = True
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)


class PooledClassifier:
    """A local classifier whose probabilities are computed in :class:`ModelProcesses`."""

    def __init__(
        self, local: LocalClassifier, *, directory: Path, processes: ModelProcesses
    ) -> None:
        self._local = local  # the version and threshold; the children compute the rest
        self._directory = directory
        self._processes = processes

    @property
    def version(self) -> str:
        """The registry version this classifier serves."""
        return self._local.version

    async def classify(self, texts: Sequence[str]) -> list[Prediction]:
        """Return one prediction per text, in input order, computed in a child process."""
        if not texts:
            return []
        probabilities = await self._processes.probabilities(self._directory, texts)
        return self._local.predictions(texts, probabilities)


class PooledGenerator:
    """A local generator whose drafting and ranking run in :class:`ModelProcesses`."""

    def __init__(
        self, local: LocalGenerator, *, directory: Path, processes: ModelProcesses
    ) -> None:
        self._local = local  # the version and reward model; the children draft and rank
        self._directory = directory
        self._processes = processes

    @property
    def version(self) -> str:
        """The registry version this generator serves."""
        return self._local.version

    @property
    def reward(self) -> RewardModel:
        """The reward model saved with the generator (the children rank with their copy)."""
        return self._local.reward

    async def pool(self, prompt: str, *, size: int, exclude: Collection[str] = ()) -> list[str]:
        """Return up to ``size`` distinct candidate texts for ``prompt``, from a child."""
        return await self._processes.pool(self._directory, prompt, size=size, exclude=exclude)

    async def rank(
        self, prompt: str, texts: Sequence[str], sarcasm: Sequence[float] | None, *, n: int
    ) -> list[Candidate]:
        """Return the ``n`` best of ``texts``, best first, ranked in a child."""
        return await self._processes.rank(self._directory, prompt, texts, sarcasm, n=n)

    async def generate(
        self, prompt: str, *, n: int, exclude: Collection[str] = ()
    ) -> list[Candidate]:
        """Return ``n`` candidate replies not in ``exclude``, best first, from a child."""
        return await self._processes.candidates(self._directory, prompt, n=n, exclude=exclude)
