"""Which work item a Slack event becomes: its kind and its idempotency key, or none.

The listeners (through Bolt) and the hot path (bot/work/hot_events.py, without Bolt) both
decide here, so the two paths put the same items.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.transports.shapes import is_object
from bot.views.replies import mentions_user
from bot.work.kinds import FLAG, MENTION, REACTION, event_key, flag_key, mention_key
from bot.work.noise import is_noise

# Channels the classifier watches: public and private ones (message.channels, message.groups).
FLAGGED_CHANNEL_TYPES = frozenset({"channel", "group"})
# The Events API callbacks the hot path takes (nine in ten of what a busy workspace sends).
HOT_EVENTS = frozenset({"message", "app_mention", "reaction_added", "reaction_removed"})


@dataclass(frozen=True)
class Work:
    """One work item to put: what kind of work, and the key that makes the put idempotent."""

    kind: str
    key: str


def mention_work(body: Mapping[str, Any]) -> Work | None:
    """Return the reply a mention or DM gets; None if the event names no channel.

    One key per message: app_mention and a DM's message event, and every redelivery, put one
    item, so the mention gets one reply.

    >>> mention_work({"event": {"channel": "C1", "ts": "1.5"}})
    Work(kind='mention', key='mention:C1:1.5')
    """
    event = event_of(body)
    channel, ts = str(event.get("channel") or ""), str(event.get("ts") or "")
    return Work(MENTION, mention_key(channel=channel, ts=ts)) if channel else None


def flag_work(body: Mapping[str, Any], *, bot_user_id: str) -> Work | None:
    """Return the classification a channel message gets; None without text or for a mention.

    The mention handler answers messages that mention the bot; one never gets both.

    >>> flag_work({"event": {"channel": "C1", "ts": "1.5", "text": "sure"}}, bot_user_id="UB")
    Work(kind='flag', key='flag:C1:1.5')
    >>> flag_work({"event": {"channel": "C1", "ts": "1.5", "text": "<@UB> hi"}}, bot_user_id="UB")
    """
    event = event_of(body)
    channel, ts, text = str(event.get("channel") or ""), str(event.get("ts")), event.get("text")
    if not channel or not isinstance(text, str) or not text.strip():
        return None
    if mentions_user(text, user_id=bot_user_id):
        return None
    return Work(FLAG, flag_key(channel=channel, ts=ts))


def reaction_work(body: Mapping[str, Any]) -> Work:
    """Return the feedback a reaction_added or reaction_removed event becomes.

    Without an event id (Socket Mode replays, tests), the event's own fields are the key.

    >>> reaction_work({"event_id": "Ev1", "event": {"type": "reaction_added"}}).key
    'event:Ev1'
    """
    event_id = body.get("event_id")
    event = event_of(body)
    key = (
        str(event_id)
        if event_id
        else f"{event.get('type')}:{event.get('user')}:{event.get('reaction')}:"
        f"{event.get('event_ts')}"
    )
    return Work(REACTION, event_key(key))


def is_channel_message(body: Mapping[str, Any]) -> bool:
    """Return whether ``body`` is from a channel the classifier watches (public or private)."""
    return event_of(body).get("channel_type") in FLAGGED_CHANNEL_TYPES


def is_direct_message(body: Mapping[str, Any]) -> bool:
    """Return whether ``body`` is from a DM with the bot, which the bot answers as a mention."""
    return event_of(body).get("channel_type") == "im"


def is_hot(body: Mapping[str, Any]) -> bool:
    """Return whether ``body`` is an Events API callback of a type the hot path takes.

    >>> is_hot({"type": "event_callback", "event": {"type": "reaction_added"}})
    True
    >>> is_hot({"type": "event_callback", "event": {"type": "app_home_opened"}})
    False
    >>> is_hot({"type": "event_callback", "event": {"type": ["message"]}})
    False
    """
    event = body.get("event")
    kind = event.get("type") if is_object(event) else None
    return body.get("type") == "event_callback" and isinstance(kind, str) and kind in HOT_EVENTS


def hot_work(body: Mapping[str, Any], *, bot_user_id: str, bot_id: str) -> Work | None:
    """Return the work Bolt's listeners would put for a hot event; None to ignore it (a 200).

    The same steps as Bolt's dispatch: noise is dropped (``drop_noise``), then the bot's own
    events (Bolt's IgnoringSelfEvents), then the first listener that matches decides.
    """
    event = event_of(body)
    if is_noise(body) or _is_self(event, bot_user_id=bot_user_id, bot_id=bot_id):
        return None
    kind = event.get("type")
    if kind == "app_mention":
        return mention_work(body)
    if kind == "message":
        # The listeners' matchers, in their order of registration (bot/app.py).
        if is_direct_message(body):
            return mention_work(body)
        if is_channel_message(body):
            return flag_work(body, bot_user_id=bot_user_id)
        return None  # group DMs and the like: nobody listens (bot/app.py's catch-all)
    return reaction_work(body)


def _is_self(event: Mapping[str, Any], *, bot_user_id: str, bot_id: str) -> bool:
    # slack_bolt/middleware/ignoring_self_events: the event's user is the bot user, or its
    # bot_id is the bot's (message events can carry bot_id without a user).
    user, sender = event.get("user"), event.get("bot_id")
    return (user is not None and user == bot_user_id) or (sender is not None and sender == bot_id)


def event_of(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return the event of an Events API callback, or an empty mapping if it has none.

    >>> event_of({"event": {"type": "message"}}), event_of({"event": "message"})
    ({'type': 'message'}, {})
    """
    event = body.get("event")
    return event if is_object(event) else {}
