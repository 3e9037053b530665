"""The workspace page in headless Chromium, against the emulator alone (no bot).

Each test acts in the browser and checks the emulator's state and what the app was sent, or
changes the state through the Web API and checks the page updates live.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import pytest
from aiohttp import web
from playwright.async_api import Page, expect
from slack_sdk.web.async_client import AsyncWebClient

from bot.workspace import ALEX, BOT_USER_ID, YOU, Workspace
from tests.workspace.conftest import REASON_MODAL, Receiver, screenshot

pytestmark = pytest.mark.browser
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f"
    b"\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


async def test_mention_posted_from_the_page_reaches_the_app(
    ws: Workspace, receiver: Receiver, browser_page: Page
) -> None:
    page = browser_page
    await page.goto(f"{ws.base_url}/#/C_GENERAL")
    await page.fill("#composer", "@sarc")
    await expect(page.locator(".completion").first).to_contain_text("@sarcasm-bot")
    await page.press("#composer", "Tab")
    await page.type("#composer", "is it Friday yet?")
    await page.press("#composer", "Enter")
    message = page.locator("#messages .message").last
    await expect(message.locator(".mention")).to_have_text("@sarcasm-bot")
    assert ws.messages("C_GENERAL")[-1]["text"] == f"<@{BOT_USER_ID}> is it Friday yet?"
    assert sorted(e["event"]["type"] for e in ws.events()) == ["app_mention", "message"]
    await screenshot(page, "page-mention")


async def test_reacting_from_the_page_toggles_the_reaction(
    ws: Workspace, receiver: Receiver, browser_page: Page
) -> None:
    page = browser_page
    ts = await ws.post_message(user=ALEX, channel="C_GENERAL", text="Another meeting. Great.")
    await page.goto(f"{ws.base_url}/#/C_GENERAL")
    message = page.locator(f'#messages .message[data-ts="{ts}"]')
    await message.hover()
    await message.locator(".react-button").click()
    await page.click('.picker-emoji[data-name="+1"]')
    pill = message.locator('.reaction[data-name="+1"]')
    await expect(pill.locator(".count")).to_have_text("1")
    await expect(pill).to_have_class("reaction mine")
    assert ws.reactions("C_GENERAL", ts) == {"+1": [YOU]}
    await screenshot(page, "page-reaction")
    await pill.click()
    await expect(pill).to_have_count(0)
    assert ws.reactions("C_GENERAL", ts) == {}
    kinds = [e["event"]["type"] for e in ws.events() if e["event"]["type"].startswith("reaction")]
    assert kinds == ["reaction_added", "reaction_removed"]


async def test_bot_activity_shows_live_threads_and_ephemerals(
    ws: Workspace, client: AsyncWebClient, browser_page: Page
) -> None:
    page = browser_page
    await page.goto(f"{ws.base_url}/#/C_GENERAL")
    await expect(page.locator("#messages .empty")).to_be_visible()
    await page.wait_for_function("document.body.dataset.live === '1'")
    parent = await ws.post_message(user=YOU, channel="C_GENERAL", text="rain again?")
    await client.chat_postMessage(channel="C_GENERAL", thread_ts=parent, text="*Lovely* weather.")
    await client.chat_postEphemeral(channel="C_GENERAL", user=YOU, text="just for you")
    await expect(page.locator(".replies-link")).to_contain_text("1 reply")
    await expect(page.locator(".message.ephemeral")).to_contain_text("Only visible to you")
    await page.click(".replies-link")
    reply = page.locator("#thread-messages .message").nth(1)
    await expect(reply.locator("b")).to_have_text("Lovely")
    await screenshot(page, "page-thread")
    await page.select_option("#user-switcher", ALEX)
    await expect(page.locator("#messages .message")).to_have_count(1)
    await expect(page.locator(".message.ephemeral")).to_have_count(0)


async def test_slash_completion_and_app_home_block_kit(
    ws: Workspace, receiver: Receiver, client: AsyncWebClient, browser_page: Page
) -> None:
    page = browser_page
    chart = await client.files_upload_v2(content=PNG, filename="chart.png", title="chart")
    confirm = {
        "title": {"type": "plain_text", "text": "Retrain?"},
        "text": {"type": "mrkdwn", "text": "Start a *classifier* job now?"},
        "confirm": {"type": "plain_text", "text": "Retrain"},
        "deny": {"type": "plain_text", "text": "Cancel"},
    }
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "sarcasm-bot"}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "*Classifier* `clf-1`"},
            "fields": [{"type": "mrkdwn", "text": "*F1*\n0.81"}],
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "3 :+1: this week"}]},
        {"type": "divider"},
        {"type": "image", "alt_text": "chart", "slack_file": {"id": chart["file"]["id"]}},
        {
            "type": "actions",
            "block_id": "admin",
            "elements": [
                {
                    "type": "button",
                    "action_id": "retrain",
                    "value": "classifier",
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Retrain classifier"},
                    "confirm": confirm,
                }
            ],
        },
    ]
    await client.views_publish(user_id=YOU, view={"type": "home", "blocks": blocks})
    await page.goto(f"{ws.base_url}/#/C_GENERAL")
    await page.fill("#composer", "/sarcasm th")
    await expect(page.locator(".completion")).to_have_count(1)
    await expect(page.locator(".completion")).to_contain_text("/sarcasm threshold")

    await page.goto(f"{ws.base_url}/#/app/home")
    home = page.locator("#home-pane")
    await expect(home.locator(".bk-header")).to_have_text("sarcasm-bot")
    await expect(home.locator(".bk-field")).to_contain_text("0.81")
    image = home.locator(".bk-image-img")
    await expect(image).to_be_visible()
    assert await image.evaluate("img => img.naturalWidth") == 1
    await home.locator('button[data-action-id="retrain"]').click()
    await expect(page.locator(".dialog")).to_contain_text("Start a classifier job now?")
    await screenshot(page, "page-home-confirm")
    await page.click('.dialog button[data-answer="yes"]')
    # The page's click reaches the app asynchronously, beside the app_home_opened event.
    clicked = await ws.wait_for(lambda: receiver.find_form("payload"))
    assert clicked is not None
    assert any(e["event"]["type"] == "app_home_opened" for e in ws.events())
    form = clicked.body.decode()
    payload = json.loads(parse_qs(form)["payload"][0])
    action = payload["actions"][0]
    assert (payload["type"], payload["user"]["id"]) == ("block_actions", YOU)
    assert (action["action_id"], action["value"], action["block_id"]) == (
        "retrain",
        "classifier",
        "admin",
    )


async def test_modal_opened_by_the_app_is_filled_and_submitted(
    ws: Workspace, receiver: Receiver, client: AsyncWebClient, browser_page: Page
) -> None:
    page = browser_page
    button = {
        "type": "button",
        "action_id": "feedback",
        "text": {"type": "plain_text", "text": "Tell us why"},
    }
    view = {"type": "home", "blocks": [{"type": "actions", "elements": [button]}]}
    await client.views_publish(user_id=YOU, view=view)
    await page.goto(f"{ws.base_url}/#/app/home")
    await page.click('button[data-action-id="feedback"]')
    got = await ws.wait_for(lambda: receiver.find_form("payload"))
    assert got is not None
    clicked = parse_qs(got.body.decode())["payload"][0]
    trigger = json.loads(clicked)["trigger_id"]
    await client.views_open(trigger_id=trigger, view=REASON_MODAL)
    dialog = page.locator(".dialog.modal")
    await expect(dialog).to_contain_text("Reason")
    await dialog.locator("input").fill("too honest")
    await screenshot(page, "page-modal")
    await dialog.locator('button[data-answer="submit"]').click()
    await expect(dialog).to_have_count(0)
    submitted = json.loads(parse_qs(receiver.last_form("payload").body.decode())["payload"][0])
    assert submitted["type"] == "view_submission"
    assert submitted["view"]["state"]["values"] == {
        "reason": {"text": {"type": "plain_text_input", "value": "too honest"}}
    }


async def test_a_modal_shows_the_apps_inline_errors_and_keeps_what_was_typed(
    ws: Workspace, receiver: Receiver, browser_page: Page
) -> None:
    page = browser_page
    receiver.answer = lambda _: web.json_response(
        {"response_action": "errors", "errors": {"reason": "Say a bit more"}}
    )
    ws.state.open_modal(user=YOU, view=REASON_MODAL)
    await page.goto(f"{ws.base_url}/#/app/home")
    dialog = page.locator(".dialog.modal")
    await dialog.locator("input").fill("meh")
    await dialog.locator('button[data-answer="submit"]').click()
    await expect(dialog.locator(".bk-input-error")).to_have_text("Say a bit more")
    await expect(dialog.locator("input")).to_have_value("meh")
    await dialog.locator('button[data-answer="close"]').click()
    await expect(dialog).to_have_count(0)
    assert ws.modal(YOU) is None
