"""Which near misses get the "sarcastic?" marker, so ✅/❌ also reach the borderline cases.

A near miss scores below the channel's threshold by at most
:data:`~tuning.records.EXPLORE_WINDOW`. The channel's ``explore`` share of them is marked,
chosen by a hash of the message, so the same message always gets the same answer (and a test
can pick one that does).

>>> marks(channel="C1", ts="1.000001", probability=0.7, threshold=0.8, share=0.2)
False
>>> marks(channel="C1", ts="1.000001", probability=0.7, threshold=0.8, share=0.0)
False
"""

from __future__ import annotations

import hashlib

from tuning.records import EXPLORE_WINDOW


def draw(*, channel: str, ts: str) -> float:
    """Return a number in [0, 1) that depends only on the message."""
    digest = hashlib.sha256(f"{channel}:{ts}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def is_near_miss(*, probability: float, threshold: float) -> bool:
    """Return whether a score is under the threshold but within the exploration window."""
    return threshold - EXPLORE_WINDOW <= probability < threshold


def marks(*, channel: str, ts: str, probability: float, threshold: float, share: float) -> bool:
    """Return whether this message gets the "sarcastic?" marker."""
    return (
        share > 0
        and is_near_miss(probability=probability, threshold=threshold)
        and draw(channel=channel, ts=ts) < share
    )
