"""Reads that run often, kept cheap: aggregation counts and the active-model pointer.

Every bot replica polls the active versions every ``REGISTRY_POLL_SECONDS`` and every tick counts
new feedback, so neither may scan a collection: a count is one aggregation query (billed as one
read per batch of up to 1,000 index entries), and the active version is one pointer document.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.cloud.firestore import FieldFilter

from tuning.records import Kind, ModelVersion, Task
from tuning.store import codec
from tuning.store.firestore.docs import decode_time as dec
from tuning.store.firestore.docs import encode_time as enc
from tuning.store.firestore.docs import translated
from tuning.store.firestore.engine import FirestoreEngine


class FirestoreCheapReads(FirestoreEngine):
    """Counts and active-version reads of :class:`~tuning.store.firestore.store.FirestoreStore`."""

    @translated
    async def count_feedback(
        self, *, since: datetime | None = None, kind: Kind | None = None
    ) -> int:
        """Return how many unretracted feedback records changed after ``since`` (of ``kind``).

        Counted by the server. ``kind`` is the interaction's kind, copied onto each feedback
        document when it is written (Firestore has no joins).
        """
        query: Any = self._col("feedback").where(filter=FieldFilter("retracted", "==", False))
        if kind is not None:
            query = query.where(filter=FieldFilter("kind", "==", kind))
        if since is not None:
            query = query.where(filter=FieldFilter("updated_at", ">", enc(since)))
        [[result]] = await query.count(alias="n").get()
        return int(result.value)

    @translated
    async def active_version(self, *, task: Task) -> str | None:
        """Return the version id of the active model of ``task``, or None: one document read."""
        snapshot = await self._doc("active_models", task).get()
        version = (snapshot.to_dict() or {}).get("version")
        return version if isinstance(version, str) else None

    @translated
    async def active_model(self, *, task: Task) -> ModelVersion | None:
        """Return the active version of ``task``, or None: the pointer, then that version."""
        version = await self.active_version(task=task)
        if version is None:
            return None
        snapshot = await self._doc("models", f"{task}:{version}").get()
        if not snapshot.exists:
            return None
        model = codec.model_from_dict(snapshot.to_dict() or {}, dec)
        # promote() writes the pointer and the states in one transaction, so they agree.
        return model if model.state == "active" else None
