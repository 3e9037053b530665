"""Forget-me and retention: delete the records, then every copy the manifests trace.

One pass (:meth:`PrivacyService.forget_user`, :meth:`~PrivacyService.retain`) deletes records
from the store, marks every manifest that listed them (or, for retention, whose oldest record is
past the window) as affected, and settles each one:

- a dataset's locations (job datasets, exports, uploads in GCS) are deleted, and its manifest
  with them once nothing is left;
- an affected *active local* model is rebuilt in place (``rebuild``: a fresh export, trained
  from scratch, promoted atomically) and only then is its artifact deleted, so serving never
  has a gap; an affected retired or candidate local model just loses its artifact;
- a Vertex or OpenAI model cannot be untrained: it stays flagged for the admins.

A deletion that fails (a GCS 403, a full disk) is kept in ``Manifest.pending`` with its reason
and tried again by :meth:`~PrivacyService.retry_pending`, which ``tick`` calls. Every step is
idempotent, so a pass run twice (a double click) does nothing the second time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from tuning.cloud.uploads import DatasetUploader
from tuning.config import Settings
from tuning.errors import SarcasmError
from tuning.privacy.locations import delete_location, is_cloud, pending_entry, split_pending
from tuning.privacy.reports import Cleanup, Flagged, ForgetReport, Pending, Rebuilt, RetentionReport
from tuning.records import Affected, Manifest, ModelVersion, model_key
from tuning.store.base import Store

log = logging.getLogger(__name__)
Hit = Callable[[Manifest], bool]
STILL_SERVING = "still serving and cannot be untrained: retrain and promote a clean version"


class Rebuild(Protocol):
    """Replace an active local model by one built without affected records, and promote it."""

    async def __call__(self, model: ModelVersion) -> ModelVersion:
        """Return the promoted replacement; raise SarcasmError if it cannot be built now."""
        ...


class PrivacyService:
    """Forget a user, expire old records, and retry what could not be deleted; see above."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        rebuild: Rebuild,
        objects: DatasetUploader | None = None,
    ) -> None:
        self._store = store
        self._retention = timedelta(days=settings.retention_days)
        self._rebuild = rebuild
        self._objects = objects
        self._lock = asyncio.Lock()  # one pass at a time in this process: rebuilds never race

    async def forget_user(self, *, user: str) -> ForgetReport:
        """Delete everything of ``user`` everywhere; an unknown user deletes nothing."""
        async with self._lock:
            erased = await self._store.forget_user(user=user)
            ids = erased.record_ids
            cleanup = await self._sweep(lambda m: bool(m.record_ids & ids), "forgotten")
        log.info(
            "forget-me: %d records, %d rebuilt, %d pending",
            erased.total,
            len(cleanup.rebuilt),
            len(cleanup.pending),
        )
        return ForgetReport(user=user, records=erased, cleanup=cleanup)

    async def retain(self, now: datetime | None = None) -> RetentionReport:
        """Expire records older than RETENTION_DAYS, and the datasets and models built on them."""
        cutoff = (now or self._store.clock()) - self._retention
        async with self._lock:
            erased = await self._store.purge_before(cutoff)
            ids = erased.record_ids

            def hit(manifest: Manifest) -> bool:
                old = manifest.oldest is not None and manifest.oldest < cutoff
                return old or bool(manifest.record_ids & ids)

            cleanup = await self._sweep(hit, "expired")
        if erased.total or cleanup.touched:
            log.info("retention: %d records expired before %s", erased.total, cutoff)
        return RetentionReport(cutoff=cutoff, records=erased, cleanup=cleanup)

    async def retry_pending(self) -> Cleanup:
        """Try again what earlier passes could not delete or rebuild."""
        async with self._lock:
            return await self._sweep(lambda _: False, "")

    # -- one pass ------------------------------------------------------------------------------

    async def _sweep(self, hit: Hit, reason: Affected) -> Cleanup:
        """Mark the manifests ``hit`` picks as affected and settle them.

        Without a ``reason`` (a retry), settle every manifest an earlier pass marked.
        """
        manifests = await self._store.list_manifests()
        # Datasets first, then the classifier before the generator: a rebuilt generator's reward
        # model scores sarcasm with the active classifier, which should be the rebuilt one.
        order = {"dataset": 0, "classifier": 1, "generator": 2}
        manifests.sort(key=lambda m: order[m.task] if m.kind == "model" else order[m.kind])
        total = Cleanup()
        for manifest in manifests:
            hit_now = bool(reason) and hit(manifest)
            fresh = hit_now and not manifest.affected
            if fresh:
                manifest = dataclasses.replace(
                    manifest, affected=reason, updated_at=self._store.clock()
                )
                await self._store.put_manifest(manifest)
            if hit_now or (not reason and manifest.affected):
                # A user hears of every model that cannot unlearn them; retention tells once.
                listed = fresh or (hit_now and reason == "forgotten")
                total = total.merged(await self._settle(manifest, listed=listed))
        return total

    async def _settle(self, manifest: Manifest, *, listed: bool) -> Cleanup:
        """Delete an affected manifest's copies, rebuilding first if it is the active model."""
        if manifest.kind == "dataset":
            done = await self._delete_all(manifest)
            if not done.pending:
                await self._store.delete_manifest(manifest.id)  # nothing of it is left to trace
            return done
        model = await self._model(manifest)
        if model is not None and model.backend != "local":
            if model.state == "active" and (manifest.locations or manifest.pending):
                # Its files (an openai version's few-shot index) are what serves: they go once
                # an admin promotes a clean version.
                done = await self._keep_pending(manifest, STILL_SERVING)
            else:
                done = await self._delete_all(manifest, artifacts=True)
            flagged = (Flagged(model.task, model.version, model.backend, model.state),)
            return dataclasses.replace(done, flagged=flagged if listed else ())
        rebuilt: tuple[Rebuilt, ...] = ()
        if model is not None and model.state == "active":
            try:
                replacement = await self._rebuild(model)
            except SarcasmError as exc:
                # Keep serving the old model until a rebuild succeeds: a gap is worse than a
                # delay, and the pending entry makes the next tick try again.
                log.warning("could not rebuild %s %s: %s", model.task, model.version, exc)
                return await self._keep_pending(manifest, f"rebuild failed: {exc}")
            rebuilt = (Rebuilt(model.task, model.version, replacement.version),)
        done = await self._delete_all(manifest, artifacts=True)
        return dataclasses.replace(done, rebuilt=rebuilt)

    async def _delete_all(self, manifest: Manifest, *, artifacts: bool = False) -> Cleanup:
        """Delete a manifest's locations and pending ones; keep what failed as pending."""
        todo = dict.fromkeys(
            [*manifest.locations, *(split_pending(p)[0] for p in manifest.pending)]
        )
        local = cloud = 0
        pending: list[Pending] = []
        for location in todo:
            try:
                deleted = await delete_location(location, self._objects)
            except SarcasmError as exc:
                log.warning("could not delete %s: %s", location, exc)
                pending.append(Pending(location, str(exc)))
                continue
            if deleted and is_cloud(location):
                cloud += 1
            elif deleted:
                local += 1
        if manifest.locations or manifest.pending:
            await self._store.put_manifest(
                dataclasses.replace(
                    manifest,
                    locations=(),
                    pending=tuple(pending_entry(p.location, p.reason) for p in pending),
                    updated_at=self._store.clock(),
                )
            )
        if artifacts:
            return Cleanup(cloud_objects=cloud, artifacts=local, pending=tuple(pending))
        return Cleanup(dataset_locations=local, cloud_objects=cloud, pending=tuple(pending))

    async def _keep_pending(self, manifest: Manifest, reason: str) -> Cleanup:
        """Move every location of ``manifest`` to pending with ``reason``, deleting nothing."""
        todo = dict.fromkeys(
            [*manifest.locations, *(split_pending(p)[0] for p in manifest.pending)]
        )
        pending = tuple(Pending(location, reason) for location in todo)
        entries = tuple(pending_entry(p.location, p.reason) for p in pending)
        if manifest.locations or entries != manifest.pending:  # every tick retries: write once
            await self._store.put_manifest(
                dataclasses.replace(
                    manifest, locations=(), pending=entries, updated_at=self._store.clock()
                )
            )
        return Cleanup(pending=pending)

    async def _model(self, manifest: Manifest) -> ModelVersion | None:
        key = model_key(manifest)
        if key is None:
            return None
        return await self._store.get_model(task=key[0], version=key[1])
