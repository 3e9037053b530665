"""Job progress reaches the admin in order, from the slash command to the outcome."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.admin.job_progress import ProgressReporter, deliver
from bot.transports.slack_client import build_web_client
from tests.admin.builders import job
from tests.admin.conftest import CONFIG_ADMIN
from tests.harness import Harness
from tuning.records import utcnow

CHANNEL = "C_GENERAL"
STAGE_MARKS = (":hourglass_flowing_sand: Queued", ":gear:", ":bar_chart: Evaluated")
ENDINGS = (":tada: Promoted", ":package: Kept", ":x:")


def _thread_texts(running: Harness) -> list[str]:
    roots = [m for m in running.ws.messages(CHANNEL) if "started retraining" in m.get("text", "")]
    if not roots:
        return []
    return [m["text"] for m in running.ws.replies(CHANNEL, roots[-1]["ts"])]


@pytest.mark.slow
async def test_local_retrain_reports_each_stage_in_order_in_a_thread(running: Harness) -> None:
    ws = running.ws
    await ws.slash_command(user=CONFIG_ADMIN, channel=CHANNEL, text="retrain classifier force")
    texts = await ws.wait_for(
        lambda: (
            [t for t in _thread_texts(running) if t.startswith(ENDINGS)] and _thread_texts(running)
        ),
        timeout=120,
    )
    assert [t.split()[0] for t in texts] == [
        ":hourglass_flowing_sand:",
        ":gear:",
        ":bar_chart:",
        ":tada:",
    ], texts
    assert "Evaluated" in texts[2]
    assert " vs active " in texts[2]
    assert "running on local" in texts[1]
    (finished,) = await running.store.list_jobs(limit=1)
    assert finished.outcome == "promoted"
    assert f"`{finished.candidate_version}`" in texts[3]
    launched = [e for e in await running.store.list_audit(limit=10) if e.action == "retrain"]
    assert launched[0].result.startswith(":rocket: Launched job")
    # A second retrain while none runs is fine; the thread answer says where progress goes.
    answers = " ".join(e.text for e in ws.ephemerals(user=CONFIG_ADMIN, channel=CHANNEL))
    assert "progress is posted in the thread" in answers


async def test_a_second_process_reports_the_end_once(running: Harness) -> None:
    """The process that launched a job died; another sees it end and tells the admin, once."""
    ws = running.ws
    client = build_web_client(running.settings.slack)
    root = await client.chat_postMessage(channel=CHANNEL, text="started retraining")
    notify = {"user": CONFIG_ADMIN, "channel": root["channel"], "thread_ts": root["ts"]}
    first = ProgressReporter(store=running.store, make_client=lambda: client, instance="a")
    second = ProgressReporter(store=running.store, make_client=lambda: client, instance="b")
    third = ProgressReporter(store=running.store, make_client=lambda: client, instance="c")
    await first.on_change(job("jx", "QUEUED", notify=notify))
    await first.on_change(job("jx", "RUNNING", notify=notify))
    # The first process is gone; the second resumes the job and sees the rest.
    for reporter in (second, second, third):
        await reporter.on_change(job("jx", "RUNNING", notify=notify))
        await reporter.on_change(job("jx", "EVALUATING", notify=notify))  # no metrics yet
        await reporter.on_change(
            job("jx", "SUCCEEDED", notify=notify, outcome="kept", candidate_version="c7")
        )
    texts = [m["text"] for m in ws.replies(CHANNEL, root["ts"])]
    assert [t.split()[0] for t in texts] == [":hourglass_flowing_sand:", ":gear:", ":package:"]
    assert "promote classifier c7" in texts[-1]


async def test_delivery_falls_back_to_response_url_then_dm(running: Harness) -> None:
    ws = running.ws
    client = build_web_client(running.settings.slack)
    # No thread (the bot is not in the channel): the slash command's response_url answers.
    await ws.slash_command(user=CONFIG_ADMIN, channel="C_WATERCOOLER", text="retrain generator")
    await running.bot.services.tasks.join()
    eph = [e.text for e in ws.ephemerals(user=CONFIG_ADMIN, channel="C_WATERCOOLER")]
    assert any("progress is posted here" in t for t in eph), eph
    (launched,) = await running.store.list_jobs(limit=1)
    assert "response_url" in launched.notify
    assert any(t.startswith(":hourglass_flowing_sand: Queued") for t in eph)
    # An expired response_url and no thread: a direct message to the user.
    expired = {
        "user": CONFIG_ADMIN,
        "response_url": "http://127.0.0.1:9/never-called",
        "response_url_expires": "2000-01-01T00:00:00+00:00",
    }
    where = await deliver(client, expired, "hello")
    assert where == "dm"
    assert ws.messages(f"D_{CONFIG_ADMIN}")[-1]["text"] == "hello"


async def test_a_new_process_resumes_an_orphaned_job_and_reports_its_end(running: Harness) -> None:
    """A job whose process died is picked up by the next bot process, which tells the admin."""
    ws = running.ws
    await running.idle()  # the first bot's own resume at start is done: it found nothing
    client = build_web_client(running.settings.slack)
    root = await client.chat_postMessage(channel=CHANNEL, text="started retraining")
    notify = {"user": CONFIG_ADMIN, "channel": root["channel"], "thread_ts": root["ts"]}
    stale = utcnow() - timedelta(minutes=30)
    await running.store.save_job(
        job("orphan", "QUEUED", backend="local", notify=notify, updated_at=stale)
    )
    second = await running.add_bot()  # starting a bot process resumes unfinished jobs
    await second.services.tasks.join()
    texts = [m["text"] for m in ws.replies(CHANNEL, root["ts"])]
    assert len(texts) == 1
    assert texts[0].startswith(":x: The classifier sft job `orphan` failed: interrupted")
    assert (await running.store.get_job("orphan")).state == "FAILED"  # type: ignore[union-attr]
