"""The whole product in a browser: the bot (SQLite, local models) against the emulated workspace.

What ``python -m bot`` runs without a Slack token, driven through the page as a person would:
a mention gets a threaded reply, a 👍 on it is counted in ``/sarcasm status`` and App Home, a
sarcastic message is flagged, and an admin's retrain goes through to promotion. The same bot also
runs in Socket Mode against the emulator's websocket.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from bot.workspace import BOT_USER_ID, YOU, Workspace
from tests.harness import Harness
from tests.workspace.conftest import screenshot
from tuning.config import Settings

pytestmark = pytest.mark.slow


@pytest.fixture
async def product(tmp_path: Path) -> AsyncIterator[Workspace]:
    """Start the emulator and the real bot against it, as ``python -m bot`` does."""
    settings = Settings(store_url=f"sqlite:///{tmp_path}/store.db", data_dir=tmp_path / "data")
    running = await Harness.product(settings)
    try:
        yield running.ws
    finally:
        await running.stop()


async def _send(page: Page, text: str) -> None:
    await page.fill("#composer", text)
    await page.press("#composer", "Escape")  # close any completion list first
    await page.press("#composer", "Enter")


@pytest.mark.browser
async def test_mention_reply_feedback_and_flag(product: Workspace, browser_page: Page) -> None:
    ws, page = product, browser_page
    await page.goto(f"{ws.base_url}/#/C_GENERAL")
    await expect(page.locator("#app-status")).to_have_text("● sarcasm-bot connected")

    # A mention gets a threaded reply.
    started = time.monotonic()
    await _send(page, "@sarcasm-bot is it going to rain again today?")
    await expect(page.locator(".replies-link")).to_contain_text("1 reply", timeout=10_000)
    print(f"mention to visible reply: {time.monotonic() - started:.2f}s")
    mention = ws.messages("C_GENERAL")[0]
    assert mention["text"].startswith(f"<@{BOT_USER_ID}>")
    await page.click(".replies-link")
    reply = page.locator("#thread-messages .message").nth(1)
    await expect(reply).to_have_attribute("data-user", BOT_USER_ID)
    await screenshot(page, "product-reply")

    # 👍 on the reply is stored as feedback: /sarcasm status and App Home count it.
    await reply.hover()
    await reply.locator(".react-button").click()
    await page.click('.picker-emoji[data-name="+1"]')
    await expect(reply.locator('.reaction[data-name="+1"] .count')).to_have_text("1")
    await page.click("#thread-close")
    await _send(page, "/sarcasm status")
    status = page.locator(".message.ephemeral").last
    await expect(status).to_contain_text("1 feedback rating", timeout=10_000)
    await screenshot(page, "product-status")
    await page.goto(f"{ws.base_url}/#/app/home")
    await expect(page.locator("#home-pane")).to_contain_text("1 positive", timeout=10_000)
    await screenshot(page, "product-home")

    # A sarcastic message is flagged with the bot's reaction. The admin sets the channel's
    # threshold first, so the test does not hang on the seed model's exact scores.
    await page.goto(f"{ws.base_url}/#/C_GENERAL")
    await _send(page, "/sarcasm threshold 0.6")
    await expect(page.locator(".message.ephemeral", has_text="0.6")).to_have_count(
        1, timeout=10_000
    )
    await _send(page, "Oh great. Another meeting. Just what I needed.")
    flagged = page.locator("#messages .message:not(.ephemeral)").last
    await expect(flagged).to_contain_text("Just what I needed")
    await expect(flagged.locator('.reaction[data-name="upside_down_face"]')).to_have_count(
        1, timeout=10_000
    )
    flag_ts = await flagged.get_attribute("data-ts")
    assert ws.reactions("C_GENERAL", str(flag_ts)).get("upside_down_face") == [BOT_USER_ID]
    await screenshot(page, "product-flag")


@pytest.mark.browser
async def test_admin_retrain_reaches_promotion(product: Workspace, browser_page: Page) -> None:
    ws, page = product, browser_page
    await page.goto(f"{ws.base_url}/#/C_GENERAL")
    await expect(page.locator("#app-status")).to_have_text("● sarcasm-bot connected")
    await _send(page, "/sarcasm retrain classifier force")
    # Progress goes to a thread under the bot's announcement in the channel.
    announcement = page.locator("#messages .message", has_text="started retraining")
    await expect(announcement.locator(".replies-link")).to_be_visible(timeout=10_000)
    await announcement.locator(".replies-link").click()
    promoted = page.locator("#thread-messages .message", has_text="Promoted")
    await expect(promoted).to_have_count(1, timeout=90_000)
    root = str(await announcement.get_attribute("data-ts"))
    texts = [m["text"] for m in ws.replies("C_GENERAL", root)]
    stages = ["Queued", "running", "Evaluated", "Promoted"]
    positions = [next(i for i, t in enumerate(texts) if stage in t) for stage in stages]
    assert positions == sorted(positions)
    await screenshot(page, "product-retrain")


async def test_the_bot_in_socket_mode_answers_mentions_dms_and_commands(harness: Harness) -> None:
    ws = harness.ws
    ws.event_url = None  # no HTTP delivery: only the socket can carry events now
    await harness.add_bot(SLACK_APP_TOKEN=ws.app_token)
    await ws.wait_for(lambda: ws.deliverer.socket_connected, timeout=20)
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"<@{BOT_USER_ID}> hi?")
    await ws.wait_for(lambda: ws.replies("C_GENERAL", ts), timeout=10)
    dm = await ws.post_message(user=YOU, channel="D_YOU", text="is it raining?")
    await ws.wait_for(lambda: ws.replies("D_YOU", dm), timeout=10)
    reply = await ws.slash_command(user=YOU, channel="C_GENERAL", text="help")
    await ws.wait_for(lambda: ws.ephemerals(user=YOU), timeout=10)
    assert (reply.status, reply.transport) == (200, "socket")
    assert {d.replies[-1].transport for d in ws.deliveries()} == {"socket"}
