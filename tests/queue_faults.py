"""The real SqliteQueue with a fault switch: ``broken`` makes every call fail as a full disk does.

The fault is injected in the queue's engine (the one place every operation runs through), so
the bot sees exactly the QueueError a broken disk produces; ``states()`` shows each key's state.
``FaultySqliteStore`` is the real SqliteStore with the same switch, for a store outage.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from tuning.errors import QueueError, StoreError
from tuning.queue.sqlite import SqliteQueue
from tuning.queue.sqlite_engine import QueueEngine
from tuning.store.sqlite.store import SqliteStore

T = TypeVar("T")


class FaultyEngine(QueueEngine):
    """A QueueEngine that refuses every operation while ``broken`` is set."""

    broken = False

    async def run(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        """Fail as a full disk would while broken; otherwise run ``operation``."""
        if self.broken:
            raise QueueError(f"sqlite queue {self.path}: disk I/O error (test fault)")
        return await super().run(operation)


class FaultySqliteQueue(SqliteQueue):
    """A SqliteQueue whose engine can be broken and mended by a test."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._engine = FaultyEngine(self._engine.path)

    @property
    def broken(self) -> bool:
        """Whether every operation fails right now."""
        return isinstance(self._engine, FaultyEngine) and self._engine.broken

    @broken.setter
    def broken(self, value: bool) -> None:
        assert isinstance(self._engine, FaultyEngine)
        self._engine.broken = value

    async def states(self) -> dict[str, str]:
        """Return each key's state: ready, leased, done or dead."""
        rows = await self._engine.run(
            lambda conn: conn.execute("SELECT key, state FROM queue_items").fetchall()
        )
        return {str(row["key"]): str(row["state"]) for row in rows}


class FaultySqliteStore(SqliteStore):
    """A SqliteStore that fails every operation while ``broken`` is set, as an unwritable file."""

    broken = False

    async def _run(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        if self.broken:
            raise StoreError(f"sqlite store {self.path}: disk I/O error (test fault)")
        return await super()._run(operation)
