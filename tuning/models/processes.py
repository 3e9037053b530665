"""Classify in child processes, so model work does not hold the serving process's GIL.

Threads share one GIL: while a thread vectorizes a batch of texts, the event loop waits for it
before every socket read and queue put, and the acks slow down. :class:`ModelProcesses` runs
``MODEL_PROCESSES`` spawned children instead. Each loads a classifier from its artifact
directory once and keeps it by path (a promoted version is a new directory, so a child never
serves a stale one); texts go in, plain floats come out.

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
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from tuning.errors import ModelError
from tuning.models.local_classifier import LocalClassifier
from tuning.records import Prediction

CHILD_NICENESS = 10
KEEP_LOADED = 2  # the active version and the one just swapped out (its last calls)
ORPHAN_CHECK_SECONDS = 1.0
WARM_UP_TEXT = "warm up"

_loaded: dict[str, LocalClassifier] = {}  # in a child: its classifiers, by artifact directory


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


def child_probabilities(directory: str, texts: list[str]) -> list[float]:
    """Return the sarcasm probabilities of the classifier saved in ``directory`` (in a child)."""
    classifier = _loaded.get(directory)
    if classifier is None:
        while len(_loaded) >= KEEP_LOADED:
            del _loaded[next(iter(_loaded))]
        classifier = _loaded[directory] = LocalClassifier.load(Path(directory))
    return classifier.probabilities(texts)


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

    async def probabilities(self, directory: Path, texts: Sequence[str]) -> list[float]:
        """Return the sarcasm probability of each text from the classifier in ``directory``.

        Raise ModelError if a child died during the call (the next call starts new ones).
        """
        executor = self._pool()
        try:
            future = executor.submit(child_probabilities, str(directory), list(texts))
            return await asyncio.wrap_future(future)
        except BrokenProcessPool as exc:
            if self._executor is executor:
                self._executor = None
                executor.shutdown(wait=False, cancel_futures=True)
            raise ModelError(f"a model process died: {exc}") from exc

    async def warm(self, directory: Path) -> None:
        """Load the classifier in ``directory`` into every child before it serves."""
        await asyncio.gather(
            *(self.probabilities(directory, [WARM_UP_TEXT]) for _ in range(self.workers))
        )

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
