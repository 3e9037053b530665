"""Exactly-once effects across retries, duplicate events and several bot processes.

Slack redelivers an event (``X-Slack-Retry-Num``) when an ack was slow or lost, and one mention
arrives both as ``app_mention`` and ``message``. Each effect first wins an atomic claim in the
shared store, so only one process, and one delivery, performs it.
"""

from __future__ import annotations

from datetime import timedelta

from tuning.store.base import Store

# Slack retries for about an hour (after 1 s, 1 min and 5 min), so an hour-long claim is enough.
EVENT_TTL = timedelta(hours=1)
# A message never gets a second reply or flag, even if an old event is replayed later.
REPLY_TTL = timedelta(days=7)


def event_key(event_id: str) -> str:
    """Return the claim key of one Events API delivery."""
    return f"event:{event_id}"


def reply_key(*, channel: str, ts: str) -> str:
    """Return the claim key of the one reply or flag a message may get."""
    return f"reply:{channel}:{ts}"


async def claim_event(store: Store, *, event_id: str, holder: str) -> bool:
    """Return True if this process is the first to handle ``event_id`` (no id: always True)."""
    if not event_id:
        return True
    return await store.claim(event_key(event_id), ttl=EVENT_TTL, holder=holder)


async def claim_reply(store: Store, *, channel: str, ts: str, holder: str) -> bool:
    """Return True if this process may reply to (or flag) the message ``channel``/``ts``."""
    return await store.claim(reply_key(channel=channel, ts=ts), ttl=REPLY_TTL, holder=holder)
