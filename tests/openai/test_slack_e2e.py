"""MODEL_BACKEND=openai end to end: the bot (start_bot) in the emulated Slack, the fake server.

Streamed replies with one candidate; best-of-n with four; reactions that change the winner once
the loop has run; few-shot exemplars in what the server was sent; and a dead server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import pytest
from aiohttp import web

from bot.views.replies import FRIENDLY_ERROR, TRY_AGAIN_ACTION
from bot.workspace import BOT_USER_ID, YOU
from tests.fakes.openai_server import FakeOpenAI, JsonDict
from tests.harness import Harness, bot_replies, eventually, feedback, stored
from tests.openai.conftest import MODEL

MENTION = f"<@{BOT_USER_ID}>"
TERSE, CHATTY = "Noted.", "Oh great, the build is broken again, what a lovely surprise."


async def serve(fake: FakeOpenAI, port: int = 0) -> web.AppRunner:
    """Serve ``fake`` on ``port`` (0: a free one) and point ``fake.url`` at it."""
    runner = web.AppRunner(fake.app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    fake.url = f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
    return runner


@pytest.fixture
def fake_openai() -> FakeOpenAI:
    """This module's fake server state (the shared fixture's server cannot be stopped)."""
    return FakeOpenAI(models=(MODEL,))


@pytest.fixture
async def served(fake_openai: FakeOpenAI) -> AsyncIterator[web.AppRunner]:
    """Serve the fake; a test may stop it first."""
    runner = await serve(fake_openai)
    yield runner
    if runner.server is not None:  # not stopped by the test already
        await runner.cleanup()


@pytest.fixture
def candidates() -> str:
    """GENERATOR_CANDIDATES for the bot; a test parametrizes it to change it."""
    return "1"


@pytest.fixture
def bot_env(fake_openai: FakeOpenAI, served: web.AppRunner, candidates: str) -> Mapping[str, str]:
    """Point the bots at the fake server."""
    return {
        "MODEL_BACKEND": "openai",
        "OPENAI_BASE_URL": fake_openai.url,
        "OPENAI_MODEL": MODEL,
        "OPENAI_RETRY_ATTEMPTS": "1",
        "OPENAI_TIMEOUT_SECONDS": "5",
        "GENERATOR_CANDIDATES": candidates,
    }


async def mention(harness: Harness, text: str) -> tuple[str, JsonDict]:
    """Mention the bot in #general; return the mention's ts and the bot's one reply."""
    ts = await harness.ws.post_message(user=YOU, channel="C_GENERAL", text=f"{MENTION} {text}")
    await harness.idle()
    [reply] = bot_replies(harness.ws, "C_GENERAL", ts)
    return ts, reply


async def test_a_mention_gets_a_streamed_reply_that_is_recorded(
    harness: Harness, fake_openai: FakeOpenAI
) -> None:
    long = "Oh sure, another standup about the standup, what could be more thrilling than that."
    fake_openai.script = lambda body, index, seed: long
    ts, reply = await mention(harness, "we have a standup about the standup")
    assert reply["text"] == long
    [body] = fake_openai.chat_bodies()
    assert body["stream"] is True
    assert "n" not in body  # one candidate: nothing to rerank
    ws = harness.ws
    assert ws.calls("chat.postMessage") == []
    [start] = ws.calls("chat.startStream")
    assert start.params["recipient_user_id"] == YOU
    assert start.params["thread_ts"] == ts
    streamed = [start, *ws.calls("chat.appendStream"), *ws.calls("chat.stopStream")]
    assert all(call.ok for call in streamed)
    [interaction] = await stored(harness.store, "generate")
    assert (interaction.ts, interaction.output) == (reply["ts"], long)
    assert reply["metadata"]["event_payload"] == {"interaction_id": interaction.id, "part": "0"}
    button = reply["blocks"][-1]["elements"][0]
    assert (button["action_id"], button["value"]) == (TRY_AGAIN_ACTION, interaction.id)
    await ws.add_reaction(user=YOU, channel="C_GENERAL", ts=reply["ts"], name="+1")
    await harness.idle()
    [rating] = [f async for f in harness.store.iter_feedback(include_retracted=False)]
    assert (rating.interaction_id, rating.rating) == (interaction.id, 1)


async def test_a_stream_cut_halfway_is_ended_with_a_note_and_not_recorded(
    harness: Harness, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script = lambda body, index, seed: "One two three four five six seven eight."
    fake_openai.cut_stream_after = 3
    _, reply = await mention(harness, "count for me")
    assert reply["text"].startswith("One two three")
    assert "wit ran out" in reply["text"]
    assert "metadata" not in reply
    assert [c.ok for c in harness.ws.calls("chat.stopStream")] == [True]
    assert await stored(harness.store, "generate") == []


@pytest.mark.parametrize("candidates", ["4"])
async def test_best_of_n_posts_the_candidate_the_reward_model_ranks_first(
    harness: Harness, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script = lambda body, index, seed: (TERSE, CHATTY)[index % 2]
    _, reply = await mention(harness, "the build is broken again")
    [interaction] = await stored(harness.store, "generate")
    ranked = [c.text for c in interaction.candidates]
    assert ranked[0] == reply["text"] == interaction.output
    assert set(ranked) == {TERSE, CHATTY}
    assert [c.score for c in interaction.candidates] == sorted(
        (c.score for c in interaction.candidates), reverse=True
    )
    assert harness.ws.calls("chat.startStream") == []
    assert fake_openai.chat_bodies()[0]["n"] == 4


@pytest.mark.parametrize("candidates", ["4"])
async def test_reactions_change_which_candidate_wins_once_the_loop_has_run(
    harness: Harness, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script = lambda body, index, seed: (CHATTY, TERSE)[index % 2]
    ws, services = harness.ws, harness.bot.services
    assert services.tuning is not None
    for day in range(40):  # 👎 the chatty reply, Try again, 👍 the terse one
        ts, first = await mention(harness, f"the build is broken again, day {day}")
        assert first["text"] == CHATTY
        await ws.add_reaction(user=YOU, channel="C_GENERAL", ts=first["ts"], name="-1")
        await ws.click_button(
            user=YOU, action_id=TRY_AGAIN_ACTION, channel="C_GENERAL", ts=first["ts"]
        )
        await harness.idle()
        second = bot_replies(ws, "C_GENERAL", ts)[-1]
        assert second["text"] == TERSE
        await ws.add_reaction(user=YOU, channel="C_GENERAL", ts=second["ts"], name="+1")
    await harness.idle()
    ratings = [f.rating for f in await feedback(harness.store, include_retracted=False)]
    assert sorted(ratings) == [-1] * 40 + [1] * 40
    _, before = await mention(harness, "the build is broken again")
    assert before["text"] == CHATTY
    job = await services.tuning.launch(
        task="generator", method="preference", backend="openai", force=True
    )
    done = await services.tuning.wait(job.id)
    assert (done.state, done.outcome) == ("SUCCEEDED", "promoted"), done.metrics
    assert await services.models.refresh()
    _, after = await mention(harness, "the build is broken again")
    assert after["text"] == TERSE


def nap(body: JsonDict, index: int, seed: int | None) -> str:
    """Answer "... day N" with a reply naming the day."""
    return f"Databases love a nap, {body['messages'][-1]['content'].rsplit(' ', 1)[-1]}."


async def test_approved_replies_become_few_shot_exemplars_in_the_request(
    harness: Harness, fake_openai: FakeOpenAI
) -> None:
    ws, services = harness.ws, harness.bot.services
    assert services.tuning is not None
    fake_openai.script = nap
    for day in range(40):
        _, reply = await mention(harness, f"the staging database fell over, day {day}")
        await ws.add_reaction(user=YOU, channel="C_GENERAL", ts=reply["ts"], name="+1")
    await harness.idle()
    assert [len(body["messages"]) for body in fake_openai.chat_bodies()] == [2] * 40
    job = await services.tuning.launch(task="generator", method="sft", backend="openai", force=True)
    done = await services.tuning.wait(job.id)
    assert (done.state, done.outcome) == ("SUCCEEDED", "promoted"), done.error
    assert await services.models.refresh()
    await mention(harness, "why did the staging database fall over")
    sent = fake_openai.chat_bodies()[-1]["messages"]
    assert any(m["content"].startswith("Databases love a nap") for m in sent[1:-1])


async def test_a_dead_server_gets_the_friendly_line_and_the_reply_comes_later(
    harness: Harness, fake_openai: FakeOpenAI, served: web.AppRunner
) -> None:
    port = served.addresses[0][1]
    await served.cleanup()  # the server is gone: connections are refused
    ws = harness.ws
    ts = await ws.post_message(user=YOU, channel="C_GENERAL", text=f"{MENTION} hello?")

    def texts() -> list[str]:
        return [m["text"] for m in bot_replies(ws, "C_GENERAL", ts)]

    await eventually(lambda: _holds(texts() == [FRIENDLY_ERROR]))
    assert await stored(harness.store, "generate") == []
    revived = await serve(fake_openai, port)  # back, where the bot looks for it
    try:
        await eventually(lambda: _holds(len(texts()) == 2), seconds=15)  # the item's retry
        await harness.idle()
    finally:
        await revived.cleanup()
    assert texts()[0] == FRIENDLY_ERROR
    [interaction] = await stored(harness.store, "generate")
    assert interaction.output == texts()[1]


async def _holds(condition: bool) -> bool:
    return condition
