"""The emulated workspace's core: its server, tokens, call records, injected failures, hooks."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import deque
from typing import Any, Self

from aiohttp import web

from bot.workspace import page, webapi
from bot.workspace.appkey import WORKSPACE
from bot.workspace.delivery import Deliverer, Delivery, Reply
from bot.workspace.model import BOT_USER_ID, JSON, Channel, Message
from bot.workspace.payloads import (
    build_app_mention,
    build_envelope,
    build_message_event,
    build_reaction_event,
)
from bot.workspace.responses import ResponseTarget, handle_response_url
from bot.workspace.state import ApiFailure, WorkspaceState

log = logging.getLogger(__name__)
# A long `python -m bot` session must not grow without bound; tests see far fewer than this.
MAX_RECORDS = 20_000
MENTION = f"<@{BOT_USER_ID}>"


class WorkspaceCore:
    """A stateful, single-team Slack that an app talks to over real HTTP and websockets."""

    def __init__(
        self,
        *,
        bot_token: str | None = None,
        app_token: str | None = None,
        signing_secret: str | None = None,
        event_url: str | None = None,
        deliver_own_events: bool = True,
        trigger_ttl: float = 3.0,
    ) -> None:
        self.bot_token = bot_token or f"xoxb-emulated-{secrets.token_hex(12)}"
        self.app_token = app_token or f"xapp-1-A_SARCASM-emulated-{secrets.token_hex(12)}"
        self.state = WorkspaceState()
        self.deliverer = Deliverer(
            signing_secret=signing_secret or secrets.token_hex(16), event_url=event_url
        )
        self.deliver_own_events = deliver_own_events
        self.trigger_ttl = trigger_ttl
        self.responses: dict[str, ResponseTarget] = {}
        self._calls: deque[webapi.Call] = deque(maxlen=MAX_RECORDS)
        self._failures: dict[str, list[webapi.Failure]] = {}
        self._triggers: dict[str, tuple[str, float]] = {}
        self._tickets: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._listeners: set[asyncio.Queue[JSON]] = set()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # -- configuration ----------------------------------------------------------------------
    @property
    def signing_secret(self) -> str:
        """Return the secret events are signed with."""
        return self.deliverer.signing_secret

    @signing_secret.setter
    def signing_secret(self, value: str) -> None:
        self.deliverer.signing_secret = value

    @property
    def event_url(self) -> str | None:
        """Return the app's Request URL (``.../slack/events``)."""
        return self.deliverer.event_url

    @event_url.setter
    def event_url(self, value: str | None) -> None:
        self.deliverer.event_url = value

    @property
    def api_url(self) -> str:
        """Return the Web API base URL, for ``SLACK_API_URL`` / ``AsyncWebClient(base_url=)``."""
        return f"{self.base_url}/api/"

    # -- lifecycle --------------------------------------------------------------------------
    def build_web_app(self) -> web.Application:
        """Return the aiohttp application serving the API, the socket, files and the page."""
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app[WORKSPACE] = self
        app.router.add_route("*", "/api/{method}", webapi.handle_api)
        app.router.add_post("/upload/{file_id}", webapi.handle_upload)
        app.router.add_get("/files/{file_id}/{name}", webapi.handle_file)
        app.router.add_post("/response/{key}", handle_response_url)
        app.router.add_get("/link/", self._handle_link)
        page.add_routes(app)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port`` (0 picks a free port) and set ``base_url``."""
        self._runner = web.AppRunner(self.build_web_app(), handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0][1]
        self.base_url = f"http://{host}:{bound}"

    async def stop(self) -> None:
        """Finish in-flight deliveries, close sockets and stop listening."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for queue in list(self._listeners):
            queue.put_nowait({})  # wakes page streams so they end
        await self.deliverer.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        if not self.base_url:
            await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- hooks used by the Web API and the page ---------------------------------------------
    def record(self, call: webapi.Call) -> None:
        """Remember one Web API call."""
        self._calls.append(call)

    def take_failure(self, method: str) -> webapi.Failure | None:
        """Consume one injected failure for ``method``, if any."""
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue[0]
        failure.times -= 1
        if failure.times <= 0:
            queue.pop(0)
        return failure

    def changed(self, scope: str) -> None:
        """Tell open pages that ``scope`` (a channel id, ``home:U``...) changed."""
        self.announce({"scope": scope})

    def announce(self, event: JSON) -> None:
        """Send open pages one change: its ``scope``, and what changed where it says more."""
        for queue in self._listeners:
            queue.put_nowait(event)

    def listen(self) -> asyncio.Queue[JSON]:
        """Return a queue of changes for one page stream."""
        queue: asyncio.Queue[JSON] = asyncio.Queue()
        self._listeners.add(queue)
        return queue

    def unlisten(self, queue: asyncio.Queue[JSON]) -> None:
        """Stop feeding a page stream."""
        self._listeners.discard(queue)

    def new_trigger(self, user: str) -> str:
        """Issue a ``trigger_id`` that lets the app open a modal for ``user`` briefly."""
        trigger = f"{int(time.time())}.{secrets.token_hex(6)}"
        self._triggers[trigger] = (user, time.monotonic())
        return trigger

    def use_trigger(self, trigger: str) -> str:
        """Return the user a fresh trigger was issued for, or raise Slack's error."""
        found = self._triggers.pop(trigger, None)
        if found is None:
            raise ApiFailure("invalid_trigger_id")
        if time.monotonic() - found[1] > self.trigger_ttl:
            raise ApiFailure("expired_trigger_id")
        return found[0]

    def socket_url(self) -> str:
        """Issue a one-use Socket Mode URL."""
        ticket = secrets.token_hex(8)
        self._tickets.add(ticket)
        return f"{self.base_url.replace('http', 'ws', 1)}/link/?ticket={ticket}&app_id=A_SARCASM"

    async def _handle_link(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.Response(status=401, text="invalid ticket")
        self._tickets.discard(ticket)
        return await self.deliverer.handle_socket(request)

    def new_response_url(self, target: ResponseTarget) -> str:
        """Issue a response URL that posts back to ``target``."""
        key = secrets.token_hex(10)
        self.responses[key] = target
        return f"{self.base_url}/response/{key}"

    def bot_sees(self, channel: Channel) -> bool:
        """Return whether the app is subscribed to events in ``channel`` (it is a member)."""
        return BOT_USER_ID in channel.members

    def message_posted(self, msg: Message) -> None:
        """Notify pages, and deliver the bot's own message event as Slack does."""
        self.changed(msg.channel)
        if self.deliver_own_events:
            for event in self.message_events(msg):
                self.emit(event)

    def message_events(self, msg: Message) -> list[JSON]:
        """Return the events Slack sends the app for a new message."""
        chan = self.state.channels[msg.channel]
        if not self.bot_sees(chan):
            return []
        shape = self.state.message_json(msg)
        events = [build_message_event(shape, channel=chan)]
        if MENTION in msg.text and msg.user != BOT_USER_ID and not chan.is_im:
            events.insert(0, build_app_mention(shape, channel=chan))
        return events

    def emit(self, event: JSON) -> None:
        """Deliver an event caused by the app's own call, in the background."""
        task = asyncio.get_running_loop().create_task(self.deliver_events([event]))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def deliver_events(self, events: list[JSON]) -> list[Reply]:
        """Wrap events in envelopes and deliver them concurrently, as Slack does."""
        deliveries = []
        for event in events:
            event_id = self.state.new_id("Ev")
            envelope = build_envelope(event, event_id=event_id)
            deliveries.append(Delivery("events_api", envelope, event_id=event_id))
        return list(await asyncio.gather(*(self.deliverer.send(d) for d in deliveries)))

    async def react(self, msg: Message, *, user: str, name: str, wait: bool = True) -> None:
        """Add a reaction and deliver ``reaction_added``."""
        self.state.react(msg, user=user, name=name)
        await self._reaction_event("reaction_added", msg, user=user, name=name, wait=wait)

    async def unreact(self, msg: Message, *, user: str, name: str, wait: bool = True) -> None:
        """Remove a reaction and deliver ``reaction_removed``."""
        self.state.unreact(msg, user=user, name=name)
        await self._reaction_event("reaction_removed", msg, user=user, name=name, wait=wait)

    async def _reaction_event(
        self, kind: str, msg: Message, *, user: str, name: str, wait: bool
    ) -> None:
        self.changed(msg.channel)
        if not self.bot_sees(self.state.channels[msg.channel]):
            return
        event = build_reaction_event(
            kind,
            user=user,
            name=name,
            channel=msg.channel,
            ts=msg.ts,
            item_user=msg.user,
            event_ts=self.state.next_ts(),
        )
        if wait:
            await self.deliver_events([event])
        elif self.deliver_own_events:
            self.emit(event)
