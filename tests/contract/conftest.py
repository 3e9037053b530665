"""The contract suites run on a manual clock: time moves only when a test advances it."""

from __future__ import annotations

import pytest

from tests.clock import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    """Return the manual clock the store fixtures of this suite read."""
    return ManualClock()
