"""One experiment's world for ``bench_learning``: the emulated Slack, the real bot, the CLI.

People act only through the workspace (signed events to the bot, Web API calls back), and the
tuning loop runs as an operator runs it: ``python -m tuning run|classify`` through the CLI's
``main(argv)``, in-process, against the same store. The bot handle is used for knowing when the
bot has finished its work and which model versions it serves, and for one measurement the CLI
cannot make: what a candidate the promotion kept would have said (:meth:`Session.predict_with`).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.runtime import RunningBot, start_bot
from bot.views.replies import TRY_AGAIN_ACTION
from bot.workspace import BOT_USER_ID, Workspace
from bot.workspace.launch import BotHandle, start_workspace
from tuning.cli import main as tuning_cli
from tuning.config import Settings
from tuning.models.loader import load_classifier
from tuning.records import ModelVersion, Prediction

GENERAL, RANDOM = "C_GENERAL", "C_RANDOM"
REPLY_TIMEOUT = 20.0
# A "Suggest a better reply" button (issue 10) is found by what Slack shows: its label.
SUGGEST_LABEL = re.compile(r"better reply", re.IGNORECASE)

JSON = dict[str, Any]


@dataclass(frozen=True)
class Shown:
    """A bot reply as a person sees it: its thread, where it is, its text, its buttons."""

    thread: str
    ts: str
    text: str
    action_ids: frozenset[str]

    @property
    def try_again(self) -> bool:
        """Return whether the reply offers *Try again*."""
        return TRY_AGAIN_ACTION in self.action_ids


def env_for(root: Path) -> dict[str, str]:
    """Return the environment the bot and the CLI share for one experiment under ``root``."""
    return {
        "STORE_URL": f"sqlite:///{root / 'store.db'}",
        "DATA_DIR": str(root / "data"),
        "MODEL_BACKEND": "local",
        # Promotions reach the bot within a fraction of a second instead of 30 s.
        "REGISTRY_POLL_SECONDS": "0.2",
    }


@contextlib.contextmanager
def environment(env: Mapping[str, str]) -> Iterator[None]:
    """Set ``env`` for the CLI (which reads its settings from the environment), then restore."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class Session:
    """The workspace and the bot of one experiment; see the module docstring."""

    def __init__(self, root: Path, ws: Workspace, bot: RunningBot) -> None:
        self.root, self.ws, self.bot = root, ws, bot
        self.env = env_for(root)

    @classmethod
    async def start(cls, root: Path) -> Session:
        """Start a fresh workspace and bot on a new store under ``root`` (trains seed models)."""
        bots: list[RunningBot] = []

        async def launch(settings: Settings) -> BotHandle:
            bot = await start_bot(settings, host="127.0.0.1")
            bots.append(bot)
            return bot

        settings = Settings.from_env(env_for(root))
        ws, _ = await start_workspace(settings, launch, port=0)
        return cls(root, ws, bots[0])

    async def stop(self) -> None:
        """Stop the bot, then the workspace."""
        await self.bot.stop()
        await self.ws.stop()

    async def idle(self) -> None:
        """Wait until every delivery is done and the bot finished the work it scheduled."""
        for _ in range(3):
            await self.ws.settle()
            await self.bot.services.tasks.join()

    # -- what people do ----------------------------------------------------------------------
    async def command(self, *, user: str, text: str, channel: str = GENERAL) -> None:
        """Run ``/sarcasm text`` as ``user`` in ``channel``."""
        await self.ws.slash_command(user=user, channel=channel, text=text)
        await self.idle()

    async def mention(self, *, user: str, text: str) -> Shown:
        """Mention the bot in #general and return its reply in the thread."""
        ts = await self.ws.post_message(user=user, channel=GENERAL, text=f"<@{BOT_USER_ID}> {text}")
        return await self._next_reply(ts, seen=0)

    async def try_again(self, *, user: str, reply: Shown) -> Shown | None:
        """Press *Try again* on ``reply``; return the new reply, or None if none came."""
        thread = reply.thread
        seen = len(self._bot_replies(thread))
        await self.ws.click_button(
            user=user, action_id=TRY_AGAIN_ACTION, channel=GENERAL, ts=reply.ts
        )
        try:
            return await self._next_reply(thread, seen=seen)
        except TimeoutError:
            return None

    async def react(self, *, user: str, channel: str, ts: str, name: str) -> None:
        """Add a reaction as ``user``."""
        await self.ws.add_reaction(user=user, channel=channel, ts=ts, name=name)

    async def suggest_better(self, *, user: str, text: str) -> bool:
        """Submit ``text`` through a *Suggest a better reply* button if the bot showed one."""
        await self.idle()
        for eph in reversed(self.ws.ephemerals(user=user, channel=GENERAL)):
            action = _button(eph.blocks or [], SUGGEST_LABEL)
            if action is None:
                continue
            await self.ws.click_button(user=user, action_id=action, channel=GENERAL, ts=eph.ts)
            await self.idle()
            modal = self.ws.modal(user)
            field = _text_input(modal["blocks"]) if modal else None
            if field is None:
                return False
            block_id, action_id = field
            values = {block_id: {action_id: {"type": "plain_text_input", "value": text}}}
            reply = await self.ws.submit_view(user=user, values=values)
            await self.idle()
            return reply.status == 200
        return False

    async def post(self, *, user: str, channel: str, text: str) -> str:
        """Post a message; return its ts."""
        return await self.ws.post_message(user=user, channel=channel, text=text)

    def bot_reaction(self, channel: str, ts: str) -> str | None:
        """Return the reaction the bot put on a message (its flag), or None."""
        for name, users in self.ws.reactions(channel, ts).items():
            if BOT_USER_ID in users:
                return name
        return None

    # -- the operator -------------------------------------------------------------------------
    async def tuning(self, *argv: str) -> tuple[int, str, str]:
        """Run ``python -m tuning ARGV`` in-process (a worker thread); return rc, stdout, stderr."""

        def call() -> tuple[int, str, str]:
            out, err = io.StringIO(), io.StringIO()
            with (
                environment(self.env),
                contextlib.redirect_stdout(out),
                contextlib.redirect_stderr(err),
            ):
                rc = tuning_cli(list(argv))
            return rc, out.getvalue(), err.getvalue()

        return await asyncio.to_thread(call)

    async def run_job(self, task: str, method: str) -> JSON:
        """Launch one tuning job now and return the job as the CLI prints it (or an error)."""
        _, out, err = await self.tuning("run", "--task", task, "--method", method, "--json")
        try:
            job: JSON = json.loads(out)
        except json.JSONDecodeError:
            return {"task": task, "method": method, "outcome": "error", "error": err.strip()}
        if job.get("outcome") == "promoted" and job.get("candidate_version"):
            await self.served(task, str(job["candidate_version"]))
        return job

    async def served(self, task: str, version: str, *, timeout: float = 15.0) -> None:  # noqa: ASYNC109
        """Wait until the bot serves ``version`` of ``task`` (it polls the registry)."""
        models = self.bot.services.models
        await self.ws.wait_for(lambda: models.versions.get(task) == version, timeout=timeout)

    async def classify(self, texts: list[str]) -> list[JSON]:
        """Return the active classifier's JSON line per text, via ``python -m tuning classify``."""
        source, target = self.root / "heldout.txt", self.root / "heldout.jsonl"
        await asyncio.to_thread(source.write_text, "".join(t + "\n" for t in texts), "utf-8")
        rc, _, err = await self.tuning("classify", "--in", str(source), "--out", str(target))
        if rc != 0:
            raise RuntimeError(f"tuning classify failed: {err.strip()}")
        text = await asyncio.to_thread(target.read_text, "utf-8")
        return [json.loads(line) for line in text.splitlines()]

    async def classifier_version(self, version: str | None = None) -> ModelVersion:
        """Return classifier ``version`` as registered (the active one by default).

        Raise LookupError when there is no such version.
        """
        store = self.bot.services.store
        model = (
            await store.active_model(task="classifier")
            if version is None
            else await store.get_model(task="classifier", version=version)
        )
        if model is None:
            raise LookupError(f"no classifier version {version or '(active)'}")
        return model

    async def predict_with(self, model: ModelVersion, texts: list[str]) -> list[Prediction]:
        """Return what classifier ``model`` (registered, active or not) predicts for ``texts``.

        The same model and the same ``label`` rule (its stored threshold) as ``tuning classify``
        uses for the active version.
        """
        classifier = await asyncio.to_thread(load_classifier, model, self.bot.services.settings)
        return await classifier.classify(texts)

    # -- seeing ---------------------------------------------------------------------------------
    def _bot_replies(self, thread: str) -> list[JSON]:
        return [m for m in self.ws.replies(GENERAL, thread) if m.get("user") == BOT_USER_ID]

    async def _next_reply(self, thread: str, *, seen: int) -> Shown:
        replies = await self.ws.wait_for(
            lambda: self._bot_replies(thread)[seen:], timeout=REPLY_TIMEOUT
        )
        message = replies[0]
        return Shown(
            thread=thread,
            ts=str(message["ts"]),
            text=str(message.get("text", "")),
            action_ids=frozenset(_action_ids(message.get("blocks") or [])),
        )


def _action_ids(blocks: list[JSON]) -> Iterator[str]:
    for block in blocks:
        for element in block.get("elements") or []:
            if isinstance(element, dict) and "action_id" in element:
                yield str(element["action_id"])
        accessory = block.get("accessory")
        if isinstance(accessory, dict) and "action_id" in accessory:
            yield str(accessory["action_id"])


def _button(blocks: list[JSON], label: re.Pattern[str]) -> str | None:
    for block in blocks:
        for element in [*(block.get("elements") or []), block.get("accessory") or {}]:
            text = (element.get("text") or {}) if isinstance(element, dict) else {}
            if element.get("type") == "button" and label.search(str(text.get("text", ""))):
                return str(element["action_id"])
    return None


def _text_input(blocks: list[JSON]) -> tuple[str, str] | None:
    for block in blocks:
        element = block.get("element") or {}
        if block.get("type") == "input" and element.get("type") == "plain_text_input":
            return str(block.get("block_id", "")), str(element.get("action_id", ""))
    return None
