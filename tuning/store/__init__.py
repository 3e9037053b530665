"""Persistence: one async :class:`Store` interface with SQLite and Firestore implementations."""

from tuning.store.base import Store

__all__ = ["Store"]
