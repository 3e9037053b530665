"""Which events the pre-authorization filter drops."""

import pytest

from bot.transports.shapes import is_malformed
from bot.work.noise import is_noise


def _message(**extra):
    return {"event": {"type": "message", "user": "U1", "ts": "1.1", "text": "hi", **extra}}


@pytest.mark.parametrize(
    ("body", "noise"),
    [
        (_message(), False),
        (_message(subtype="thread_broadcast"), False),
        (_message(subtype="message_changed"), True),
        (_message(subtype="message_deleted"), True),
        (_message(subtype="channel_join"), True),
        (_message(subtype="bot_message"), True),
        (_message(subtype="file_share"), True),
        (_message(bot_id="B1"), True),
        (_message(bot_profile={"id": "B1"}), True),
        (_message(user=None), True),
        (_message(ts=17), True),
        ({"event": {"type": "app_mention", "user": "U1", "ts": "1.1"}}, False),
        ({"event": {"type": "app_mention", "user": "U1", "ts": "1.1", "bot_id": "B9"}}, True),
        ({"event": {"type": "reaction_added", "user": "U1"}}, False),
        ({"event": "not a dict"}, False),
        ({"type": "block_actions"}, False),
        ({}, False),
    ],
)
def test_is_noise(body, noise):
    assert is_noise(body) is noise


@pytest.mark.parametrize(
    ("body", "malformed"),
    [
        ({"type": "event_callback", "event": {"type": "message", "user": "U1"}}, False),
        ({"type": "event_callback", "event": {"type": "reaction_added", "item": {}}}, False),
        ({"type": "block_actions", "user": {"id": "U1"}, "actions": [{"action_id": "a"}]}, False),
        ({"command": "/sarcasm", "user_id": "U1"}, False),
        ({"type": "url_verification", "challenge": "x"}, False),
        ([1, 2], True),
        ("text", True),
        ({"type": "event_callback"}, True),
        ({"type": "event_callback", "event": []}, True),
        ({"event": {"user": "U1"}}, True),
        ({"event": {"type": 7}}, True),
        ({"event": {"type": "reaction_added", "item": "C1"}}, True),
        ({"event": {"type": "message", "user": ["U1"]}}, True),
        ({"type": "block_actions", "user": 5}, True),
        ({"type": "block_actions", "actions": "click"}, True),
        ({"type": "block_actions", "actions": [1]}, True),
        ({"type": "block_actions", "actions": []}, True),
        ({"type": "block_actions", "actions": None}, True),
        ({"type": "view_submission", "view": None}, True),
    ],
)
def test_is_malformed(body, malformed):
    assert is_malformed(body) is malformed
