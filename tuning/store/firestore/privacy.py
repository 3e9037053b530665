"""Forget-me and the retention purge on Firestore, page by page.

Neither is one atomic step (Firestore batches hold 500 writes): each deletes the feedback and
corrections on a page of interactions before the interactions themselves, so a crash never
leaves feedback on a deleted message, and running it again finishes the job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from google.cloud.firestore import FieldFilter

from tuning.records import Erased, correction_id
from tuning.store.firestore.docs import encode_time as enc
from tuning.store.firestore.docs import translated
from tuning.store.firestore.engine import WRITE_BATCH, FirestoreEngine

IN_LIMIT = 30  # an "in" filter takes at most 30 values


@dataclass
class _Tally:
    """What one forget or purge has deleted so far."""

    interactions: int = 0
    feedback: int = 0
    corrections: int = 0
    record_ids: set[str] = field(default_factory=set)

    def erased(self) -> Erased:
        return Erased(
            self.interactions, self.feedback, self.corrections, frozenset(self.record_ids)
        )


class FirestorePrivacy(FirestoreEngine):
    """Forget-me and retention for :class:`~tuning.store.firestore.store.FirestoreStore`."""

    @translated
    async def forget_user(self, *, user: str) -> Erased:
        """Delete every record of the user's text and feedback; return what went.

        Deletes what the user authored, the feedback and corrections on it, and those the
        user gave; clears the user as the actor of what others wrote. The opt-out record and
        the admin audit log are kept. An empty ``user`` forgets nothing.
        """
        tally = _Tally()
        if not user:
            return tally.erased()
        interactions = self._col("interactions")
        authored = interactions.where(filter=FieldFilter("author", "==", user))
        while snapshots := await authored.limit(self.page_size).get():
            await self._erase_interactions(snapshots, tally)
        caused = interactions.where(filter=FieldFilter("user", "==", user))
        while snapshots := await caused.limit(self.page_size).get():
            # A document stored before authors were is the actor's own text.
            theirs = [s for s in snapshots if ((s.to_dict() or {}).get("author") or user) == user]
            await self._erase_interactions(theirs, tally)
            gone = {s.id for s in theirs}
            await self._clear_actor([s.reference for s in snapshots if s.id not in gone])
        for collection in ("feedback", "corrections"):
            given = self._col(collection).where(filter=FieldFilter("user", "==", user))
            while snapshots := await given.limit(self.page_size).get():
                await self._erase_records(collection, snapshots, tally)
        # Order markers of feedback on other people's messages name the user too (ids only).
        markers = self._col("feedback_order").where(filter=FieldFilter("user", "==", user))
        while snapshots := await markers.limit(self.page_size).get():
            await self._delete_all(s.reference for s in snapshots)
        return tally.erased()

    @translated
    async def purge_before(self, cutoff: datetime) -> Erased:
        """Delete interactions, feedback and corrections created before ``cutoff``.

        Feedback and corrections on a deleted interaction go with it.
        """
        tally = _Tally()
        before = FieldFilter("created_at", "<", enc(cutoff))
        old = self._col("interactions").where(filter=before)
        while snapshots := await old.limit(self.page_size).get():
            await self._erase_interactions(snapshots, tally)
        for collection in ("feedback", "corrections"):
            query = self._col(collection).where(filter=before)
            while snapshots := await query.limit(self.page_size).get():
                await self._erase_records(collection, snapshots, tally)
        return tally.erased()

    async def _erase_interactions(self, snapshots: list[Any], tally: _Tally) -> None:
        """Delete these interactions, after the feedback and corrections on them."""
        ids = [str(s.get("id")) for s in snapshots]
        for collection in ("feedback", "corrections"):
            found: list[Any] = []
            for start in range(0, len(ids), IN_LIMIT):
                chunk = ids[start : start + IN_LIMIT]
                on = self._col(collection).where(filter=FieldFilter("interaction_id", "in", chunk))
                found.extend(await on.get())
            await self._erase_records(collection, found, tally)
        tally.interactions += await self._delete_all(s.reference for s in snapshots)
        tally.record_ids.update(ids)

    async def _erase_records(self, collection: str, snapshots: list[Any], tally: _Tally) -> None:
        """Delete feedback (with its order markers) or corrections, and tally them."""
        refs = [s.reference for s in snapshots]
        if collection == "feedback":
            markers = self._col("feedback_order")
            refs += [markers.document(s.id) for s in snapshots]  # same id as its feedback
            tally.feedback += len(snapshots)
        else:
            tally.corrections += len(snapshots)
            tally.record_ids.update(
                correction_id(interaction_id=s.get("interaction_id"), user=s.get("user"))
                for s in snapshots
            )
        await self._delete_all(refs)

    async def _clear_actor(self, refs: list[Any]) -> None:
        """Set ``user`` to "" on these interactions: the text stays, its actor goes."""
        for start in range(0, len(refs), WRITE_BATCH):
            batch = self.client.batch()
            for ref in refs[start : start + WRITE_BATCH]:
                batch.update(ref, {"user": ""})
            await batch.commit()
