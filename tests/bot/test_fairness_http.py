"""Fairness: a burst of long texts, or a long Retry-After, never holds up small new work.

Real signed HTTP against the emulated workspace, with the real worker and queue. The models
are the real ones, except that a long text's generation waits at a gate the test opens, so the
long work holds its slots for as long as the test wants.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import ClassVar

import pytest

from bot.work.kinds import LONG_TEXT
from bot.workspace import BOT_USER_ID, YOU
from tests.harness import Harness, bot_replies
from tuning.models.serving import LiveModels
from tuning.records import Candidate, ChannelSettings

MENTION = f"<@{BOT_USER_ID}>"
# With the mention in front, just under Slack's 40,000 characters.
LONG = ("Oh sure, another all-hands meeting, what a treat. " * 800)[:39_900]


class SlowOnLongTexts(LiveModels):
    """The real generator; a long prompt waits at ``gate`` first, as a slow model would."""

    gate: ClassVar[asyncio.Event] = asyncio.Event()
    waiting: ClassVar[int] = 0

    async def retry(
        self, prompt: str, *, shown: Collection[str], n: int | None = None
    ) -> list[Candidate]:
        if len(prompt) > LONG_TEXT:
            type(self).waiting += 1
            await type(self).gate.wait()
        return await super().retry(prompt, shown=shown, n=n)


@pytest.mark.parametrize("harness", [SlowOnLongTexts], indirect=True)
async def test_a_small_mention_is_not_stuck_behind_a_burst_of_long_ones(harness: Harness) -> None:
    ws = harness.ws
    SlowOnLongTexts.gate, SlowOnLongTexts.waiting = asyncio.Event(), 0
    burst = [
        await ws.post_message(user=YOU, channel="C_GENERAL", text=f"{MENTION} {LONG}")
        for _ in range(6)
    ]
    await ws.wait_for(lambda: SlowOnLongTexts.waiting >= 1)  # long work holds its slot
    small = await ws.post_message(user=YOU, channel="C_RANDOM", text=f"{MENTION} quick one?")
    await ws.wait_for(lambda: bot_replies(ws, "C_RANDOM", small), timeout=20)
    assert all(bot_replies(ws, "C_GENERAL", ts) == [] for ts in burst)  # still at the gate
    SlowOnLongTexts.gate.set()
    await harness.idle()
    for ts in [*burst, small]:
        assert len(bot_replies(ws, "C_GENERAL" if ts in burst else "C_RANDOM", ts)) == 1


async def test_a_long_retry_after_on_a_reply_does_not_stall_flags(harness: Harness) -> None:
    ws, store = harness.ws, harness.store
    await store.put_channel_settings(
        ChannelSettings(channel="C_RANDOM", threshold=0.0, mode="react")
    )
    ws.fail_next("chat.postMessage", status=429, retry_after=600, times=1)
    slow = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"{MENTION} first")
    await ws.wait_for(lambda: [c for c in ws.calls("chat.postMessage") if c.status == 429])
    # The rate-limited reply waits in the queue for 10 minutes; a flag goes ahead.
    flagged = await ws.post_message(user=YOU, channel="C_RANDOM", text="Oh great, Monday.")
    await ws.wait_for(lambda: ws.reactions("C_RANDOM", flagged), timeout=10)
    assert bot_replies(ws, "C_GENERAL", slow) == []
