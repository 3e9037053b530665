"""`python -m bot`: one-line config errors; SIGTERM exits 0 and leaves unfinished work queued."""

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from bot.__main__ import main
from bot.transports.http import HEALTH_PATH
from bot.workspace import BOT_USER_ID, YOU, Workspace
from tests.harness import SECRET, bot_replies
from tuning.store.sqlite.store import SqliteStore

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"PORT": "eighty"}, "PORT"),
        ({"SLACK_BOT_TOKEN": "xoxp-user-token"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
        ({"STORE_URL": "mysql://db"}, "STORE_URL"),
    ],
)
def test_bad_settings_exit_2_with_one_line(monkeypatch, tmp_path, capsys, env, variable):
    monkeypatch.chdir(tmp_path)  # no .env here
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "PORT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"error: {variable}: ")
    assert "Traceback" not in err


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _healthy(url: str, proc: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            assert proc.returncode is None, "the bot exited during start-up"
            try:
                async with session.get(url) as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("the bot never became healthy")


async def _run_bot(tmp_path: Path, env: dict[str, str], port: int) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--host",
        "127.0.0.1",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    await _healthy(f"http://127.0.0.1:{port}{HEALTH_PATH}", proc)
    return proc


async def _stop(proc: asyncio.subprocess.Process) -> bytes:
    """SIGTERM the bot and return its stderr; it must exit 0 well within Cloud Run's 10 s."""
    try:
        proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=20)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, stderr.decode()[-2000:]
    return stderr


@pytest.mark.slow
async def test_sigterm_exits_0_and_the_next_process_answers_what_was_left(tmp_path, bot_template):
    """Work acked but unfinished at SIGTERM stays queued; the next process answers it once."""
    shutil.copytree(bot_template, tmp_path, dirs_exist_ok=True)
    port = _free_port()
    async with Workspace(signing_secret=SECRET) as ws:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp_path),
            "PYTHONPATH": str(ROOT),
            "SLACK_BOT_TOKEN": ws.bot_token,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": ws.api_url,
            "PORT": str(port),
            "STORE_URL": f"sqlite:///{tmp_path / 'store.db'}",
            "DATA_DIR": str(tmp_path / "data"),
        }
        proc = await _run_bot(tmp_path, env, port)
        ws.event_url = f"http://127.0.0.1:{port}/slack/events"
        # Slack rate-limits the reply for 2 s: the item goes back to the queue for that long,
        # and SIGTERM arrives while it waits.
        ws.fail_next("chat.postMessage", status=429, retry_after=2)
        secret_text = "my very private words about Mondays"
        ts = await ws.post_message(
            user=YOU, channel="C_GENERAL", text=f"<@{BOT_USER_ID}> {secret_text}"
        )
        await ws.wait_for(lambda: ws.calls("chat.postMessage"), timeout=10)
        stderr = await _stop(proc)
        assert bot_replies(ws, "C_GENERAL", ts) == []  # not lost: still in the queue
        later = await _run_bot(tmp_path, env, port)
        try:
            await ws.wait_for(lambda: bot_replies(ws, "C_GENERAL", ts), timeout=20)
        finally:
            stderr += await _stop(later)
        [reply] = bot_replies(ws, "C_GENERAL", ts)
        assert [c.status for c in ws.calls("chat.postMessage")] == [429, 200]
    assert secret_text not in stderr.decode()  # no message text in the logs
    store = SqliteStore(tmp_path / "store.db")
    await store.open()
    try:
        [interaction] = [i async for i in store.iter_interactions()]
        assert interaction.ts == reply["ts"]
    finally:
        await store.close()


def test_unwritable_store_path_fails_in_one_line_without_a_traceback(tmp_path):
    """A STORE_URL the process cannot write is named in one line; nothing else is printed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "STORE_URL"))}
    env |= {"STORE_URL": "sqlite:////proc/sarcasm-test/store.db", "DATA_DIR": str(tmp_path)}
    env |= {"PORT": str(_free_port()), "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}
    done = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: STORE_URL: cannot write sqlite database at /proc/sarcasm-test/store.db "
        "(no such file or directory)"
    ]
