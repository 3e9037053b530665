"""Fixtures for the workspace emulator's tests: a running emulator and a stand-in app endpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import Page, async_playwright
from slack_sdk.web.async_client import AsyncWebClient

from bot.workspace import Workspace

# A one-input modal the tests open with a trigger_id, fill in and submit.
REASON_MODAL = {
    "type": "modal",
    "callback_id": "why",
    "title": {"type": "plain_text", "text": "Why?"},
    "submit": {"type": "plain_text", "text": "Send"},
    "blocks": [
        {
            "type": "input",
            "block_id": "reason",
            "label": {"type": "plain_text", "text": "Reason"},
            "element": {"type": "plain_text_input", "action_id": "text"},
        }
    ],
}


@dataclass
class Received:
    """One request the emulator sent to the stand-in app."""

    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A plain HTTP endpoint standing in for the app's ``/slack/events``; it records requests."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    answer: Callable[[Received], web.Response] = lambda _: web.Response(status=200)

    def find_form(self, key: str) -> Received | None:
        """Return the latest form-encoded request carrying ``key`` (a command or ``payload``).

        Event callbacks (the bot's own posts echo back as message events) arrive concurrently,
        so the latest request of all is not necessarily the one an action just caused.
        """
        prefix, infix = f"{key}=".encode(), f"&{key}=".encode()
        for got in reversed(self.requests):
            if got.body.startswith(prefix) or infix in got.body:
                return got
        return None

    def last_form(self, key: str) -> Received:
        """Return what :meth:`find_form` finds, after an action that awaited the app's ack."""
        got = self.find_form(key)
        if got is None:
            raise AssertionError(f"no form request with {key!r} among {len(self.requests)}")
        return got


@pytest.fixture
async def ws() -> AsyncIterator[Workspace]:
    """Yield a started emulator with no app connected."""
    async with Workspace() as workspace:
        yield workspace


@pytest.fixture
async def client(ws: Workspace) -> AsyncWebClient:
    """Return slack_sdk's real async client pointed at the emulator with the bot token."""
    return AsyncWebClient(token=ws.bot_token, base_url=ws.api_url)


@pytest.fixture
async def receiver(ws: Workspace) -> AsyncIterator[Receiver]:
    """Run a recording endpoint and point the emulator's event delivery at it."""
    rec = Receiver()

    async def handle(request: web.Request) -> web.Response:
        got = Received(dict(request.headers), await request.read())
        rec.requests.append(got)
        return rec.answer(got)

    app = web.Application()
    app.router.add_post("/slack/events", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    rec.url = f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
    ws.event_url = rec.url
    try:
        yield rec
    finally:
        await runner.cleanup()


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HAVE_CHROMIUM = CHROMIUM.exists()
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@pytest.fixture
async def browser_page() -> AsyncIterator[Page]:
    """Yield a Playwright page in Debian's headless Chromium (never a downloaded browser)."""
    if not HAVE_CHROMIUM:
        pytest.skip("/usr/bin/chromium is absent (apt-get install chromium); browser tests skip")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        page = await browser.new_page(viewport={"width": 1400, "height": 850})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            yield page
        finally:
            await browser.close()
        assert errors == [], f"JavaScript errors on the page: {errors}"


async def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot under artifacts/screenshots/ and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
