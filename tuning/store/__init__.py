"""Persistence: one async :class:`Store` interface with SQLite and Firestore implementations."""

from __future__ import annotations

from datetime import timedelta

from tuning.errors import ConfigError
from tuning.records import Clock, utcnow
from tuning.store.base import Store

__all__ = ["Store", "open_store"]


async def open_store(
    url: str, *, clock: Clock = utcnow, retention: timedelta | None = None
) -> Store:
    """Build the store named by a STORE_URL, open it and return it.

    ``sqlite:///PATH`` (relative; ``sqlite:////abs/path`` for an absolute path) or
    ``firestore://PROJECT[/DATABASE]``. Raise ConfigError naming STORE_URL for anything else.
    The store reads the time from ``clock``. With a ``retention``, Firestore records carry
    ``expires_at`` for its TTL policies (SQLite needs none: ``purge_before`` does it all).
    """
    scheme, _, rest = url.partition("://")
    store: Store
    if scheme == "sqlite":
        if not rest.startswith("/") or len(rest) < 2:
            raise ConfigError("STORE_URL", f"{url!r} has no path (use sqlite:///PATH)")
        from tuning.store.sqlite.store import SqliteStore

        store = SqliteStore(rest[1:], clock=clock)
    elif scheme == "firestore":
        from tuning.store.firestore.store import FirestoreStore

        store = FirestoreStore.from_url(url, clock=clock, retention=retention)
    else:
        raise ConfigError(
            "STORE_URL",
            f"unsupported scheme {scheme if rest else url!r} "
            "(use sqlite:///PATH or firestore://PROJECT)",
        )
    try:
        await store.open()
    except BaseException:  # even cancellation: close what was opened, then re-raise
        await store.close()
        raise
    return store
