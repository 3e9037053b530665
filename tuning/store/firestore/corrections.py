"""Corrections on Firestore: one document per (interaction, user), ordered by ``created_at``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from google.cloud.firestore import FieldFilter

from tuning.records import Correction
from tuning.store import codec
from tuning.store.codec import key_digest
from tuning.store.firestore.docs import decode_time as dec
from tuning.store.firestore.docs import encode_time as enc
from tuning.store.firestore.docs import translated
from tuning.store.firestore.engine import FirestoreEngine


def correction_id(interaction_id: str, user: str) -> str:
    """Return the document id of the correction ``user`` wrote for an interaction."""
    return key_digest(interaction_id, user)


class FirestoreCorrections(FirestoreEngine):
    """The corrections part of :class:`~tuning.store.firestore.store.FirestoreStore`."""

    @translated
    async def add_correction(self, correction: Correction) -> None:
        """Store a person's better reply; one per (interaction, user), a later one replaces it."""
        ref = self._col("corrections").document(
            correction_id(correction.interaction_id, correction.user)
        )
        await ref.set(
            {**codec.correction_to_dict(correction, enc), **self._expiry(correction.created_at)}
        )

    async def iter_corrections(self, *, since: datetime | None = None) -> AsyncIterator[Correction]:
        """Yield corrections oldest first, optionally only those created after ``since``."""
        # One range and one order on the same field: a single-field index serves it.
        query: Any = self._col("corrections")
        if since is not None:
            query = query.where(filter=FieldFilter("created_at", ">", enc(since)))
        async for snapshot in self._pages(query.order_by("created_at")):
            yield codec.correction_from_dict(snapshot.to_dict() or {}, dec)
