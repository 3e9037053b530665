"""A clock that moves only when a test says so: for TTL, claim, lease and expiry tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

START = datetime(2026, 1, 1, 12, tzinfo=UTC)


class ManualClock:
    """Return the same aware UTC time until :meth:`advance` moves it on."""

    def __init__(self, start: datetime = START) -> None:
        if start.utcoffset() != timedelta(0):
            raise ValueError("a clock returns aware UTC datetimes")
        self.now = start

    def __call__(self) -> datetime:
        """Return the current (manual) time."""
        return self.now

    def advance(self, delta: timedelta) -> None:
        """Move the time forward by ``delta``."""
        if delta < timedelta(0):
            raise ValueError("a clock never goes back")
        self.now += delta
