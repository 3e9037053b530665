"""The models a running bot serves, kept in step with the registry's active versions.

:class:`LiveModels` loads the active classifier and generator (training local ones from base data
on a fresh store), answers ``classify`` and ``reply``, and swaps models when the registry changes:
``run_polling`` re-reads the active versions every ``REGISTRY_POLL_SECONDS`` (at most 60 s), so
every replica follows a promotion or rollback without a restart. With ``MODEL_PROCESSES`` > 0 a
local classifier is served from child processes (:mod:`tuning.models.processes`), loaded there
by its artifact path, so each new version is a new path.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Collection, Sequence
from pathlib import Path

from tuning.config import Settings
from tuning.errors import SarcasmError
from tuning.models.base import Classifier, Generator, StreamingGenerator
from tuning.models.builders import ensure_active
from tuning.models.loader import load_classifier, load_generator
from tuning.models.local_classifier import LocalClassifier
from tuning.models.local_generator import LocalGenerator
from tuning.models.processes import ModelProcesses, PooledClassifier, PooledGenerator
from tuning.models.ranking import best_replies
from tuning.records import Candidate, ModelVersion, Prediction, Task
from tuning.store.base import Store

log = logging.getLogger(__name__)
RETIRE_AFTER_SECONDS = 30.0  # let requests that still hold a swapped-out model finish first


class LiveModels:
    """The active classifier and generator, reloaded when the registry promotes new versions."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: Store,
        classifier: Classifier,
        generator: Generator,
        processes: ModelProcesses | None = None,
    ) -> None:
        self._settings = settings
        self._processes = processes
        self._store = store
        self._classifier = classifier
        self._generator = generator
        self._refresh_lock = asyncio.Lock()
        self._retiring: set[asyncio.Task[None]] = set()

    @classmethod
    async def start(cls, *, settings: Settings, store: Store) -> LiveModels:
        """Load the active models, first training and promoting local ones if none are active.

        With MODEL_BACKEND=openai the server is checked first, and ``openai`` versions are
        made active where they are not (raise ModelError, one line, if the server is not there).
        """
        if settings.model_backend == "openai":
            from tuning.models.openai_versions import ensure_openai_active

            await ensure_openai_active(settings=settings, store=store)
        active = await ensure_active(settings=settings, store=store)
        processes = ModelProcesses(settings.model_processes) if settings.model_processes else None
        try:
            classifier = await asyncio.to_thread(load_classifier, active["classifier"], settings)
            classifier = await _served(classifier, active["classifier"], processes)
            generator = await asyncio.to_thread(load_generator, active["generator"], settings)
            generator = await _served_generator(generator, active["generator"], processes)
        except BaseException:
            if processes is not None:
                await processes.close()  # no child outlives a start that failed
            raise
        log.info("serving classifier %s, generator %s", classifier.version, generator.version)
        return cls(
            settings=settings,
            store=store,
            classifier=classifier,
            generator=generator,
            processes=processes,
        )

    @property
    def versions(self) -> dict[str, str]:
        """Return the versions being served, by task."""
        return {"classifier": self._classifier.version, "generator": self._generator.version}

    async def classify(self, texts: Sequence[str]) -> list[Prediction]:
        """Return one prediction per text, in input order, from the active classifier."""
        return await self._classifier.classify(list(texts))

    async def reply(self, prompt: str, *, n: int | None = None) -> list[Candidate]:
        """Return ``n`` candidate replies (default ``GENERATOR_CANDIDATES``), best first.

        Ranked by :func:`~tuning.models.ranking.best_replies`: the reward model that travels
        with the generator, fed the active classifier's sarcasm probabilities.
        """
        return await self.retry(prompt, shown=(), n=n)

    async def retry(
        self, prompt: str, *, shown: Collection[str], n: int | None = None
    ) -> list[Candidate]:
        """Return up to ``n`` best replies not among ``shown`` (*Try again*), best first.

        Fewer than ``n`` (possibly none) only when the generator has nothing new to say.
        """
        count = n or self._settings.candidates
        generator, classifier = self._generator, self._classifier  # one consistent pair
        return await best_replies(generator, classifier, prompt, n=count, exclude=shown)

    def stream(self, prompt: str) -> AsyncGenerator[str, None] | None:
        """Return the active generator's one reply to ``prompt`` as it is written.

        None when that generator cannot stream (local, Vertex): the caller asks :meth:`reply`.
        Nothing is reranked: a streamed reply is the first and only candidate.
        """
        generator = self._generator
        return generator.stream(prompt) if isinstance(generator, StreamingGenerator) else None

    async def refresh(self) -> bool:
        """Re-read the active versions and swap in any that changed; return whether one did.

        A version that fails to load is logged and skipped: the current model keeps serving.
        """
        async with self._refresh_lock:
            changed = False
            # The poll reads only the active version ids (one document each on Firestore) and
            # fetches a full model record only when it changed.
            classifier = await self._changed("classifier", self._classifier.version)
            if classifier is not None:
                loaded = await self._load(classifier)
                if loaded is not None:
                    assert isinstance(loaded, Classifier)
                    self._retire(self._classifier)
                    self._classifier, changed = loaded, True
            generator = await self._changed("generator", self._generator.version)
            if generator is not None:
                loaded = await self._load(generator)
                if loaded is not None:
                    assert isinstance(loaded, Generator)
                    self._retire(self._generator)
                    self._generator, changed = loaded, True
            if changed:
                log.info("now serving %s", self.versions)
            return changed

    async def _changed(self, task: Task, serving: str) -> ModelVersion | None:
        """Return the active version of ``task`` when it is not ``serving``, else None."""
        if await self._store.active_version(task=task) in (None, serving):
            return None
        model = await self._store.active_model(task=task)
        return model if model is not None and model.version != serving else None

    async def _load(self, model: ModelVersion) -> Classifier | Generator | None:
        try:
            if model.task == "generator":
                generator = await asyncio.to_thread(load_generator, model, self._settings)
                return await _served_generator(generator, model, self._processes)
            loaded = await asyncio.to_thread(load_classifier, model, self._settings)
            return await _served(loaded, model, self._processes)
        except SarcasmError:
            log.exception("cannot load %s %s; keeping the current one", model.task, model.version)
            return None

    async def run_polling(self) -> None:
        """Call :meth:`refresh` every ``registry_poll_seconds`` until cancelled."""
        while True:
            await asyncio.sleep(self._settings.registry_poll_seconds)
            try:
                await self.refresh()
            except SarcasmError:
                log.warning("registry poll failed; will retry", exc_info=True)

    def _retire(self, model: object) -> None:
        if getattr(model, "aclose", None) is None:
            return  # local models hold no connections
        task = asyncio.create_task(_close_later(model, RETIRE_AFTER_SECONDS))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def close(self) -> None:
        """Release whatever the models hold (Vertex clients); local models hold nothing."""
        for task in list(self._retiring):
            task.cancel()
        await asyncio.gather(*self._retiring, return_exceptions=True)
        for model in (self._classifier, self._generator):
            await _close_later(model, 0)
        if self._processes is not None:
            await self._processes.close()


async def _served(
    classifier: Classifier, model: ModelVersion, processes: ModelProcesses | None
) -> Classifier:
    """Return the classifier to serve: in the child processes when there are any and it is local.

    The children load it by its artifact path; they have it loaded before it serves.
    """
    if processes is None or not isinstance(classifier, LocalClassifier):
        return classifier
    directory = Path(model.artifact)
    await processes.warm(directory)
    return PooledClassifier(classifier, directory=directory, processes=processes)


async def _served_generator(
    generator: Generator, model: ModelVersion, processes: ModelProcesses | None
) -> Generator:
    """Return the generator to serve: in the child processes when there are any and it is local."""
    if processes is None or not isinstance(generator, LocalGenerator):
        return generator
    directory = Path(model.artifact)
    await processes.warm(directory, generator=True)
    return PooledGenerator(generator, directory=directory, processes=processes)


async def _close_later(model: object, delay: float) -> None:
    """Close a model's connections after ``delay`` seconds (at once when cancelled)."""
    try:
        await asyncio.sleep(delay)
    finally:
        closer = getattr(model, "aclose", None)
        if closer is not None:
            try:
                await closer()
            # Any error: closing is best effort, it must not keep the other model open, and an
            # SDK's HTTP session can fail with anything. The type only: a message may hold secrets.
            except Exception as exc:  # noqa: BLE001 - best effort, as the comment above says
                version = getattr(model, "version", "?")
                log.warning("could not close model %s (%s)", version, type(exc).__name__)
