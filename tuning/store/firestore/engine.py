"""The Firestore store's engine room: the client, collection names, transactions and paging."""

from __future__ import annotations

import asyncio
import random
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from google.api_core import exceptions as api_errors
from google.cloud.firestore import (
    AsyncClient,
    AsyncCollectionReference,
    AsyncDocumentReference,
    AsyncQuery,
    AsyncTransaction,
    DocumentSnapshot,
    async_transactional,
)

from tuning.errors import StoreError
from tuning.records import Clock, utcnow
from tuning.store.firestore.docs import (
    api_errors_as_store_errors,
    doc_id,
    encode_time,
    translated,
)

T = TypeVar("T")
# Transactions retry their commit on contention (the SDK's default is 5), and we retry reads that
# time out waiting for a lock.
MAX_ATTEMPTS = 10
READ_ATTEMPTS = 5
WRITE_BATCH = 400  # Firestore allows 500 writes per batch
GET_ALL_CHUNK = 300  # documents asked for in one BatchGetDocuments call


class FirestoreEngine:
    """The client, per-key local locks and paging that every Firestore store method uses."""

    def __init__(
        self,
        client: AsyncClient,
        *,
        prefix: str = "",
        page_size: int = 500,
        clock: Clock = utcnow,
        retention: timedelta | None = None,
    ) -> None:
        self.client = client
        self.clock = clock
        self.prefix = prefix
        self.page_size = page_size
        # With a retention, interactions, feedback and corrections carry ``expires_at``, the
        # field their TTL policies delete by (see tuning.store.firestore.setup).
        self.retention = retention
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def _transact(self, lock_key: str, body: Callable[[AsyncTransaction], Awaitable[T]]) -> T:
        """Run ``body`` in a transaction, one at a time per ``lock_key`` within this process.

        The transaction alone is what makes it atomic across processes. The local lock is there
        because Firestore's pessimistic locking makes transactions that read and write the same
        document wait on each other until a lock timeout (seconds on the emulator), so letting
        this process race against itself would only add retries.
        """
        lock = self._locks.setdefault(lock_key, asyncio.Lock())
        async with lock:
            for attempt in range(1, READ_ATTEMPTS + 1):
                try:
                    return await async_transactional(body)(
                        self.client.transaction(max_attempts=MAX_ATTEMPTS)
                    )
                except api_errors.Aborted:
                    # The SDK retries an aborted commit itself, but not a read that timed out
                    # waiting for another transaction's lock: back off and start over.
                    if attempt == READ_ATTEMPTS:
                        raise
                    await asyncio.sleep(random.uniform(0.05, 0.2) * attempt)
                except ValueError as exc:  # the SDK's "Failed to commit transaction in N attempts"
                    raise StoreError(f"firestore store: {exc}") from exc
            raise AssertionError("unreachable")

    def _expiry(self, created_at: datetime) -> dict[str, datetime]:
        """Return the ``expires_at`` field of a record created at ``created_at``, if any."""
        if self.retention is None:
            return {}
        return {"expires_at": encode_time(created_at) + self.retention}

    def _col(self, name: str) -> AsyncCollectionReference:
        return self.client.collection(self.prefix + name)

    async def _existing(
        self, collection: str, raw_ids: Collection[str], *, flag: str | None = None
    ) -> set[str]:
        """Return the ``raw_ids`` whose documents exist (and hold a true ``flag``), batched.

        One BatchGetDocuments call per chunk of ids, not one get each.
        """
        refs = {self._doc(collection, raw).id: raw for raw in dict.fromkeys(raw_ids)}
        found: set[str] = set()
        ids = list(refs)
        for start in range(0, len(ids), GET_ALL_CHUNK):
            chunk = [self._doc(collection, refs[i]) for i in ids[start : start + GET_ALL_CHUNK]]
            async for snapshot in self.client.get_all(chunk):
                if snapshot.exists and (flag is None or snapshot.get(flag)):
                    found.add(refs[snapshot.id])
        return found

    def _doc(self, collection: str, raw_id: str) -> AsyncDocumentReference:
        return self._col(collection).document(doc_id(raw_id))

    async def close(self) -> None:
        """Close the client's channel."""
        api = getattr(self.client, "_firestore_api_internal", None)
        if api is not None:  # the SDK has no public close() for the async client
            await api.transport.close()

    @translated
    async def ping(self) -> bool:
        """Return True when Firestore answers a read of one document."""
        try:
            await self._doc("meta", "ping").get(timeout=10)
        except api_errors.GoogleAPIError:
            return False
        return True

    async def _pages(self, query: AsyncQuery | AsyncCollectionReference) -> AsyncIterator[Any]:
        """Yield every snapshot of ``query`` (which must be ordered) page by page."""
        last: DocumentSnapshot[Any] | None = None
        while True:
            page = query.limit(self.page_size)
            if last is not None:
                page = page.start_after(last)
            with api_errors_as_store_errors():
                snapshots = await page.get()
            for snapshot in snapshots:
                yield snapshot
            if len(snapshots) < self.page_size:
                return
            last = snapshots[-1]

    async def _delete_unchanged(self, snapshot: Any) -> bool:
        """Delete the document unless it changed since ``snapshot`` was read."""
        option = self.client.write_option(last_update_time=snapshot.update_time)
        try:
            await snapshot.reference.delete(option=option)
        except (api_errors.FailedPrecondition, api_errors.NotFound):
            return False  # re-claimed (or purged) by someone else meanwhile
        return True

    async def _delete_all(self, refs: Iterable[AsyncDocumentReference]) -> int:
        pending = list(refs)
        for start in range(0, len(pending), WRITE_BATCH):
            batch = self.client.batch()
            for ref in pending[start : start + WRITE_BATCH]:
                batch.delete(ref)
            await batch.commit()
        return len(pending)
