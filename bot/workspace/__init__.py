"""An emulated Slack workspace: the Web API, event delivery and a Slack-like web page.

Product code, not only a test helper: ``python -m bot`` without ``SLACK_BOT_TOKEN`` runs the bot
against it (see :mod:`bot.workspace.launch`), and the end-to-end tests drive it the same way.
It never imports the bot: the app only ever meets it over HTTP and websockets, as it meets Slack.

Usage in a test::

    from bot.workspace import Workspace, YOU, ALEX, BOT_USER_ID

    async with Workspace(event_url="http://127.0.0.1:PORT/slack/events") as ws:
        # ws.api_url for SLACK_API_URL / AsyncWebClient(base_url=...); ws.bot_token,
        # ws.signing_secret, ws.app_token (Socket Mode) for the app's settings.
        ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"<@{BOT_USER_ID}> hi")
        reply = await ws.wait_for(lambda: ws.replies("C_GENERAL", ts))
        await ws.add_reaction(user=YOU, channel="C_GENERAL", ts=reply[0]["ts"], name="+1")
        await ws.slash_command(user=YOU, channel="C_GENERAL", text="status")
        ws.ephemerals(user=YOU, channel="C_GENERAL")[-1].text
        await ws.open_home(user=YOU); ws.home_view(YOU)
        await ws.click_button(user=YOU, action_id="retrain")            # on App Home
        await ws.click_button(user=YOU, action_id="x", channel=C, ts=T)  # in a message
        ws.calls("chat.postMessage"); ws.events("app_mention"); ws.deliveries()
        ws.fail_next("chat.postMessage", status=429, retry_after=1, times=1)  # or status=500
        await ws.redeliver(ws.events("message")[0]["event_id"], retry_num=1)

Actions ``await`` the app's acknowledgement (3 s at most); the app's later Web API calls need
``await ws.wait_for(predicate, timeout=5)``. ``await ws.settle()`` drains background deliveries.
Ids: team ``T0001``; users ``U_YOU`` (admin, owner), ``U_ALEX``, bot ``U_BOT`` / ``B_BOT``;
channels ``C_GENERAL``, ``C_RANDOM`` (bot in both), ``C_WATERCOOLER`` (bot not in it),
``G_PRIVATE`` (private, bot not in it), DMs with the bot ``D_YOU`` and ``D_ALEX``.
Delivery: Socket Mode when an app has connected via ``apps.connections.open`` (app token
``ws.app_token``), else signed HTTP POSTs to ``ws.event_url`` (settable after start).
"""

from bot.workspace.delivery import Delivery, Reply, sign
from bot.workspace.emulator import Workspace
from bot.workspace.model import ALEX, APP_ID, BOT_ID, BOT_USER_ID, TEAM_ID, YOU
from bot.workspace.state import ApiFailure

__all__ = [
    "ALEX",
    "APP_ID",
    "BOT_ID",
    "BOT_USER_ID",
    "TEAM_ID",
    "YOU",
    "ApiFailure",
    "Delivery",
    "Reply",
    "Workspace",
    "sign",
]
