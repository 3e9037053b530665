"""The emulated Slack workspace: what people do in it (post, react, command, click) and see.

These are the control API for tests and the page. Each action changes the state, then delivers
the resulting events to the app and waits for its acknowledgement, so a test can assert right
after ``await`` (the app's later Web API calls still need :meth:`Workspace.wait_for`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import TypeVar

from bot.workspace import webapi
from bot.workspace.core import WorkspaceCore
from bot.workspace.delivery import Delivery, Reply
from bot.workspace.model import JSON, Ephemeral
from bot.workspace.payloads import (
    build_block_actions,
    build_home_opened,
    build_rich_text,
    build_slash_command,
    build_view_submission,
)
from bot.workspace.responses import ResponseTarget, apply_response, find_element
from bot.workspace.state import ApiFailure
from bot.workspace.view_responses import apply_view_response

T = TypeVar("T")


class Workspace(WorkspaceCore):
    """The emulated Slack, with the control API: act as a person, and see what they would see."""

    # -- acting ----------------------------------------------------------------------------
    async def post_message(
        self, *, user: str, channel: str, text: str, thread_ts: str | None = None
    ) -> str:
        """Post as ``user`` and deliver ``message`` (and ``app_mention``) events; return the ts."""
        chan = self.state.channel(channel, viewer=user)
        if user not in chan.members:
            raise ApiFailure("not_in_channel")
        if thread_ts is not None:
            self.state.message(chan.id, thread_ts)  # people can only reply to what they see
        block = build_rich_text(text, block_id=self.state.new_id("b")[:5])
        msg = self.state.post(
            channel=chan, user=user, text=text, thread_ts=thread_ts, blocks=[block]
        )
        self.changed(chan.id)
        await self.deliver_events(self.message_events(msg))
        return msg.ts

    async def add_reaction(self, *, user: str, channel: str, ts: str, name: str) -> None:
        """React as ``user`` and deliver ``reaction_added``."""
        await self.react(self.state.message(channel, ts), user=user, name=name)

    async def remove_reaction(self, *, user: str, channel: str, ts: str, name: str) -> None:
        """Take back ``user``'s reaction and deliver ``reaction_removed``."""
        await self.unreact(self.state.message(channel, ts), user=user, name=name)

    async def slash_command(
        self, *, user: str, channel: str, text: str, command: str = "/sarcasm"
    ) -> Reply:
        """Run a slash command as ``user``; an immediate reply body is shown as Slack shows it."""
        person, chan = self.state.user(user), self.state.channel(channel, viewer=user)
        target = ResponseTarget(user=user, channel=chan.id, created=_now())
        form = build_slash_command(
            user=person,
            channel=chan,
            command=command,
            text=text,
            response_url=self.new_response_url(target),
            trigger_id=self.new_trigger(user),
        )
        reply = await self.deliverer.send(Delivery("slash_commands", form))
        if reply.status == 200 and reply.payload:
            with contextlib.suppress(ApiFailure):  # an ack with no text shows nothing
                apply_response(self, target, reply.payload)
        elif reply.status != 200:
            self.state.add_ephemeral(
                channel=chan.id,
                user=user,
                thread_ts=None,
                blocks=None,
                text=f'{command} failed with the error "dispatch_failed"',
            )
            self.changed(chan.id)
        return reply

    async def open_home(self, *, user: str) -> Reply:
        """Open the App Home tab as ``user`` and deliver ``app_home_opened``."""
        self.state.user(user)
        dm = next(c for c in self.state.channels.values() if c.is_im and user in c.members)
        event = build_home_opened(
            user=user,
            channel=dm.id,
            view=self.state.home_views.get(user),
            event_ts=self.state.next_ts(),
        )
        return (await self.deliver_events([event]))[0]

    async def click_button(
        self,
        *,
        user: str,
        action_id: str,
        value: str | None = None,
        channel: str | None = None,
        ts: str | None = None,
    ) -> Reply:
        """Click a button: in a message when ``channel``/``ts`` are given, else on App Home."""
        person = self.state.user(user)
        trigger = self.new_trigger(user)
        if channel is None:
            view = self.state.home_views.get(user) or self.state.modals.get(user)
            if view is None:
                raise LookupError(f"{user} has no view open")
            action = _action(view["blocks"], action_id, value)
            payload = build_block_actions(user=person, action=action, trigger_id=trigger, view=view)
        else:
            chan = self.state.channel(channel, viewer=user)
            eph = _ephemeral(self.ephemerals(user=user, channel=channel), ts)
            if eph is not None:
                shape: JSON = {
                    "type": "message",
                    "ts": eph.ts,
                    "text": eph.text,
                    "blocks": eph.blocks,
                    "is_ephemeral": True,
                }
            else:
                shape = self.state.message_json(self.state.message(chan.id, ts))
            target = ResponseTarget(user, chan.id, _now(), message_ts=ts, ephemeral=eph is not None)
            payload = build_block_actions(
                user=person,
                trigger_id=trigger,
                message=shape,
                channel=chan,
                action=_action(shape.get("blocks") or [], action_id, value),
                response_url=self.new_response_url(target),
            )
        return await self.deliverer.send(Delivery("interactive", payload))

    async def submit_view(self, *, user: str, values: JSON | None = None) -> Reply:
        """Submit ``user``'s open modal with ``values`` (``{block_id: {action_id: {...}}}``)."""
        view = self.state.modals.get(user)
        if view is None:
            raise LookupError(f"{user} has no modal open")
        payload = build_view_submission(
            user=self.state.user(user),
            view=view,
            values=values or {},
            trigger_id=self.new_trigger(user),
        )
        reply = await self.deliverer.send(Delivery("interactive", payload))
        if reply.status == 200:
            apply_view_response(self.state, user=user, view=view, body=reply.payload or {})
            self.changed(f"modal:{user}")
        return reply

    def close_view(self, *, user: str) -> None:
        """Close ``user``'s modal with its Cancel button (nothing is sent: no notify_on_close)."""
        self.state.close_modal(user=user)
        self.changed(f"modal:{user}")

    # -- test controls ----------------------------------------------------------------------
    def calls(self, method: str | None = None) -> list[webapi.Call]:
        """Return the recorded Web API calls, optionally of one method, oldest first."""
        return [c for c in self._calls if method is None or c.method == method]

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int = 1,
        times: int = 1,
        error: str = "",
        after_apply: bool = False,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail (429 with Retry-After, or a 5xx).

        ``status=0`` resets the connection. ``after_apply`` fails the answer only: the call
        took effect first, as when Slack posted the message and the response was lost.
        """
        failure = webapi.Failure(
            status=status,
            retry_after=retry_after,
            times=times,
            error=error,
            after_apply=after_apply,
        )
        self._failures.setdefault(method, []).append(failure)

    def clear_failures(self) -> None:
        """Forget every failure :meth:`fail_next` injected and that has not happened yet."""
        self._failures.clear()

    def deliveries(self, kind: str | None = None) -> list[Delivery]:
        """Return what was sent to the app (``events_api``, ``slash_commands``, ``interactive``)."""
        return [d for d in self.deliverer.log if kind is None or d.kind == kind]

    def events(self, event_type: str | None = None) -> list[JSON]:
        """Return the delivered event envelopes, optionally of one inner event type."""
        return [
            d.payload
            for d in self.deliveries("events_api")
            if event_type is None or d.payload["event"].get("type") == event_type
        ]

    async def redeliver(
        self, event_id: str, *, retry_num: int = 1, reason: str = "http_timeout"
    ) -> Reply:
        """Send an event again as Slack's retry number ``retry_num`` would."""
        for delivery in self.deliverer.log:
            if delivery.event_id == event_id:
                return await self.deliverer.send(delivery, retry_num=retry_num, reason=reason)
        raise KeyError(event_id)

    async def wait_for(
        self,
        predicate: Callable[[], T],
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 (a polling deadline, not an I/O timeout)
        interval: float = 0.02,
    ) -> T:
        """Poll until ``predicate()`` is truthy and return it, or raise ``TimeoutError``."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            await asyncio.sleep(interval)

    async def settle(self) -> None:
        """Wait until every background delivery (events caused by the bot's own calls) is done."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- seeing ----------------------------------------------------------------------------
    def messages(self, channel: str) -> list[JSON]:
        """Return a channel's top-level messages, oldest first, in the Web API's shape."""
        return [self.state.message_json(m, metadata=True) for m in self.state.top_level(channel)]

    def replies(self, channel: str, ts: str) -> list[JSON]:
        """Return a thread's replies (not its parent), oldest first."""
        if ts not in self.state.messages.get(channel, {}):
            return []
        return [
            self.state.message_json(m, metadata=True) for m in self.state.thread(channel, ts)[1:]
        ]

    def reactions(self, channel: str, ts: str) -> dict[str, list[str]]:
        """Return ``{emoji name: [user ids]}`` on a message (empty if it does not exist)."""
        msg = self.state.messages.get(channel, {}).get(ts)
        return {k: list(v) for k, v in msg.reactions.items()} if msg else {}

    def ephemerals(self, *, user: str | None = None, channel: str | None = None) -> list[Ephemeral]:
        """Return ephemeral messages, optionally only those one user sees in one channel."""
        return [
            e
            for e in self.state.ephemerals
            if (user is None or e.user == user) and (channel is None or e.channel == channel)
        ]

    def home_view(self, user: str) -> JSON | None:
        """Return the App Home view published for ``user``, or None."""
        return self.state.home_views.get(user)

    def modal(self, user: str) -> JSON | None:
        """Return the modal open for ``user``, or None."""
        return self.state.modals.get(user)

    def modal_errors(self, user: str) -> dict[str, str]:
        """Return the inline errors the app put on ``user``'s open modal, by block id."""
        return dict(self.state.modal_errors.get(user, {}))


def _action(blocks: list[JSON], action_id: str, value: str | None) -> JSON:
    found = find_element(blocks, action_id)
    block_id, element = found if found else ("", {"type": "button"})
    action: JSON = {"action_id": action_id, "block_id": block_id, "type": element.get("type")}
    if "text" in element:
        action["text"] = element["text"]
    chosen = value if value is not None else element.get("value")
    if chosen is not None:
        action["value"] = chosen
    if "style" in element:
        action["style"] = element["style"]
    return action


def _ephemeral(found: list[Ephemeral], ts: str | None) -> Ephemeral | None:
    return next((e for e in found if e.ts == ts), None)


def _now() -> float:
    return time.time()
