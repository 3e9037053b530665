"""Issue 13's scenario end to end through the emulated workspace and the real CLI (SQLite).

Alex writes a marker phrase into mentions and channel messages (flagged); You rate them, press
*Try again* on Alex's prompt and mention the bot bare under Alex's thread; an admin retrains
both models with `/sarcasm retrain`; `python -m tuning export` writes a dataset. The real audit
CLI finds the marker in the store, the datasets, the export and the model files. Alex clicks
*Forget me*: the answer counts what went, the audit finds nothing, You's records and the models
serve on, and no log line at INFO or above holds the marker.
"""

from __future__ import annotations

import asyncio
import json
import logging
from functools import partial
from pathlib import Path

import pytest

from bot.views.replies import TRY_AGAIN_ACTION
from bot.workspace import ALEX, BOT_USER_ID, YOU
from tests.harness import Harness, bot_replies, stored
from tests.privacy.cli import run_cli
from tuning.records import TASKS, ChannelSettings

pytestmark = pytest.mark.slow
MARKER = "zorblattic"
MENTION = f"<@{BOT_USER_ID}>"
THINGS = (
    "build", "deploy", "printer", "vpn", "wifi", "standup", "laptop", "ticket",
    "release", "badge", "elevator", "coffee", "calendar", "backup", "email", "intranet",
)  # fmt: skip


async def _mention(harness: Harness, user: str, text: str, **where: str) -> tuple[str, dict]:
    ws = harness.ws
    ts = await ws.post_message(user=user, channel="C_GENERAL", text=text, **where)
    thread = where.get("thread_ts", ts)
    replies = await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", thread), timeout=20)
    return ts, replies[-1]


async def _retrain(harness: Harness, task: str) -> None:
    """Run `/sarcasm retrain <task> force` as a workspace admin and wait for the job to end."""
    ws, store = harness.ws, harness.store
    before = len(await store.list_jobs(limit=50))
    await ws.slash_command(user=YOU, channel="C_GENERAL", text=f"retrain {task} force")

    async def ended() -> bool:
        jobs = await store.list_jobs(limit=50)
        return len(jobs) > before and jobs[0].ended

    for _ in range(600):
        if await ended():
            break
        await asyncio.sleep(0.2)
    [job] = await store.list_jobs(limit=1)
    assert job.state == "SUCCEEDED", job.error


async def test_forget_me_through_slack_leaves_no_copy_anywhere(
    harness: Harness, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    ws, store, settings = harness.ws, harness.store, harness.settings
    await store.put_channel_settings(ChannelSettings(channel="C_GENERAL", threshold=0.0))
    alex_prompts = []
    for n, thing in enumerate(THINGS):
        ts, reply = await _mention(harness, ALEX, f"{MENTION} is the {MARKER} {thing} fixed yet?")
        alex_prompts.append((ts, reply))
        await ws.add_reaction(
            user=YOU, channel="C_GENERAL", ts=reply["ts"], name="-1" if n % 4 == 0 else "+1"
        )
        flagged = await ws.post_message(
            user=ALEX, channel="C_GENERAL", text=f"Oh great, the {MARKER} {thing} broke again."
        )
        await ws.wait_for(partial(ws.reactions, "C_GENERAL", flagged), timeout=20)
        await ws.add_reaction(user=YOU, channel="C_GENERAL", ts=flagged, name="white_check_mark")
        # You's own texts, which must survive Alex's forget-me.
        _, mine = await _mention(harness, YOU, f"{MENTION} will the {thing} work on Monday?")
        await ws.add_reaction(user=ALEX, channel="C_GENERAL", ts=mine["ts"], name="+1")
    # You presses Try again on Alex's prompt, and mentions the bot bare under Alex's message.
    first_ts, first = alex_prompts[0]
    await ws.click_button(user=YOU, action_id=TRY_AGAIN_ACTION, channel="C_GENERAL", ts=first["ts"])
    await ws.wait_for(lambda: len(bot_replies(ws, "C_GENERAL", first_ts)) == 2, timeout=20)
    parent = await ws.post_message(user=ALEX, channel="C_GENERAL", text=f"Is {MARKER} down?")
    await _mention(harness, YOU, MENTION, thread_ts=parent)
    await harness.idle()
    for task in TASKS:
        await _retrain(harness, task)
    out = settings.data_dir / "exports" / "generator"
    export = ["export", "--task", "generator", "--method", "sft", "--out", str(out), "--json"]
    exported = await asyncio.to_thread(run_cli, export, settings, cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    audit = ["privacy", "audit", "--user", ALEX, "--text", MARKER, "--json"]

    before = await asyncio.to_thread(run_cli, audit, settings, cwd=tmp_path)

    assert before.returncode == 1, before.stderr
    places = {f["where"] for f in json.loads(before.stdout)["found"]}
    assert any(w.startswith(str(out)) for w in places), places
    assert any(w.endswith("generator.json") for w in places), places
    assert any(".skops!" in w for w in places), places
    mine_before = {i.id for i in await stored(store) if i.author == YOU}

    await ws.slash_command(user=ALEX, channel="C_GENERAL", text="forget-me")
    [question] = await ws.wait_for(lambda: ws.ephemerals(user=ALEX, channel="C_GENERAL"))
    await ws.click_button(
        user=ALEX, action_id="forget_me_confirm", channel="C_GENERAL", ts=question.ts
    )
    await ws.wait_for(lambda: "Deleted" in question.text, timeout=120)
    await harness.idle()

    assert "Rebuilt the classifier" in question.text
    assert MARKER not in question.text
    after = await asyncio.to_thread(run_cli, audit, settings, cwd=tmp_path)
    assert after.returncode == 0, after.stdout + after.stderr
    assert json.loads(after.stdout)["found"] == []
    # Nor does the work queue's file keep a copy of what was put before forget-me.
    queue_files = sorted(harness.root.glob("queue.db*"))
    assert queue_files
    assert [
        f.name for f in queue_files if MARKER.encode() in await asyncio.to_thread(f.read_bytes)
    ] == []
    remaining = await stored(store)
    assert {i.id for i in remaining if i.author == YOU} == mine_before
    assert all(MARKER not in i.input_text for i in remaining)
    # You's bare mention under Alex's message stored Alex's text: it went with Alex.
    assert [i for i in remaining if i.thread_ts == parent] == []
    # The rebuilt models serve on.
    _, reply = await _mention(harness, YOU, f"{MENTION} is the coffee machine fixed?")
    assert reply["text"].strip()
    logged = [r.getMessage() + str(r.__dict__) for r in caplog.records if r.levelno >= logging.INFO]
    assert logged
    assert not [line for line in logged if MARKER in line]
