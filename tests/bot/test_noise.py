"""Which events the pre-authorization filter drops."""

import pytest

from bot.noise import is_noise


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
