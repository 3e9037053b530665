"""The reward scorer over real HTTP: the contract, determinism, logs, and a fuzz for 500s."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuning.models.local_classifier import LocalClassifier
from tuning.models.reward import RewardModel
from tuning.scoring.scorer import EMPTY_REWARD, Scorer


def body(response: str, prompt: str = "The build is broken again.", **extra: Any) -> dict[str, Any]:
    return {
        "example": {
            "systemInstruction": {"parts": [{"text": "Reply sarcastically."}]},
            "contents": [{"role": "user", "parts": [{"text": prompt}]}],
        },
        "response": {"role": "model", "parts": [{"text": response}]},
        "metadata": {"step": 12, "tuning_job_id": 987654321},
        **extra,
    }


async def post(url: str, payload: Any, *, raw: bytes | None = None) -> tuple[int, Any]:
    # A stream, as aiohttp warns (ResourceWarning) on a large body sent as plain bytes.
    data = io.BytesIO(raw if raw is not None else json.dumps(payload).encode())
    async with aiohttp.ClientSession() as session, session.post(url, data=data) as answer:
        text = await answer.text()
        try:
            return answer.status, json.loads(text)
        except ValueError:
            return answer.status, text


async def test_the_documented_post_gets_a_reward_in_range(scorer_url: str) -> None:
    status, answer = await post(scorer_url, body("Oh great, the build is broken. Again."))
    assert status == 200
    assert set(answer) == {"reward"}
    assert isinstance(answer["reward"], float)
    assert -1.0 <= answer["reward"] <= 1.0


async def test_the_same_request_gets_the_same_reward(scorer_url: str) -> None:
    rewards = {
        (await post(scorer_url, body("Wow, what a surprise.")))[1]["reward"] for _ in range(5)
    }
    assert len(rewards) == 1


async def test_an_empty_response_earns_the_lowest_reward(scorer_url: str) -> None:
    status, answer = await post(scorer_url, body("   "))
    assert (status, answer["reward"]) == (200, EMPTY_REWARD)


async def test_rewards_track_the_reward_model(
    scorer_url: str, scorer: Scorer, seed_classifier: LocalClassifier
) -> None:
    prompt = "the printer is jammed again"
    replies = [
        "ok",
        "The printer is jammed? Again? What a shock.",
        "Oh great, the printer is jammed. My favourite way to spend a Monday.",
        "I like turtles and also the weather in spring is nice most years",
        "Sure, printers never jam. Never ever.",
    ]
    sarcasm = seed_classifier.probabilities(replies)
    scores = scorer.reward.score(prompt, replies, sarcasm)
    rewards = [(await post(scorer_url, body(r, prompt)))[1]["reward"] for r in replies]
    assert len(set(scores)) == len(scores)  # the check below needs distinct scores
    by_score = sorted(range(len(replies)), key=lambda i: scores[i])
    by_reward = sorted(range(len(replies)), key=lambda i: rewards[i])
    assert by_reward == by_score


async def test_a_learnt_preference_moves_the_reward() -> None:
    from tests.scoring.conftest import serve

    prompt, liked, disliked = "standup ran long", "Only an hour? Brisk.", "ok then"
    prior = RewardModel()
    taught = prior.fit([(prompt, liked, disliked)] * 20, strength=0.01)
    runner, url = await serve(Scorer(reward=taught))
    try:
        good = (await post(url, body(liked, prompt)))[1]["reward"]
        bad = (await post(url, body(disliked, prompt)))[1]["reward"]
    finally:
        await runner.cleanup()
    assert good > bad


async def test_healthz(scorer_url: str) -> None:
    async with aiohttp.ClientSession() as session, session.get(scorer_url + "healthz") as answer:
        assert answer.status == 200
        health = await answer.json()
    assert health["status"] == "ok"
    assert health["classifier"] == "clf-test"


async def test_one_log_line_per_request_with_job_and_step_never_the_text(
    scorer_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tuning.scoring.app")
    await post(scorer_url, body("Secret sarcasm 4242, how lovely."))
    await post(scorer_url, {"example": {}, "metadata": {"step": 3, "tuning_job_id": "55"}})
    lines = [r.getMessage() for r in caplog.records if r.name == "tuning.scoring.app"]
    assert len(lines) == 2
    assert "job=987654321 step=12" in lines[0]
    assert "job=55 step=3" in lines[1]
    assert not any("4242" in line or "Secret" in line for line in lines)


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000, b"null", b'"text"'],
)
async def test_bodies_that_are_not_the_contract_get_400(scorer_url: str, raw: bytes) -> None:
    status, answer = await post(scorer_url, None, raw=raw)
    assert status == 400
    assert "error" in answer


async def test_a_body_over_the_limit_is_refused_before_it_is_read(scorer_url: str) -> None:
    status, _ = await post(scorer_url, body("x" * (5 * 1024 * 1024)))
    assert status == 413


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
TEXT = st.one_of(
    st.text(max_size=50), st.integers(0, 200_000).map(lambda n: "sarcasm " * (n // 8)), JSON
)
PART = st.one_of(
    st.fixed_dictionaries({"text": TEXT}),
    st.fixed_dictionaries({}, optional={"text": TEXT, "thought": JSON}),
    JSON,
)
CONTENT = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "role": st.sampled_from(["user", "model", "x"]) | JSON,
            "parts": st.lists(PART, max_size=3) | JSON,
        },
    ),
    JSON,
)
BODY = (
    st.fixed_dictionaries(
        {},
        optional={
            "example": st.fixed_dictionaries(
                {},
                optional={
                    "contents": st.lists(CONTENT, max_size=3) | JSON,
                    "systemInstruction": CONTENT,
                    "references": st.dictionaries(st.text(max_size=5), TEXT, max_size=2) | JSON,
                },
            )
            | JSON,
            "response": CONTENT,
            "metadata": st.fixed_dictionaries(
                {}, optional={"step": JSON | st.text(max_size=25), "tuning_job_id": JSON}
            )
            | JSON,
        },
    )
    | JSON
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(payload=BODY)
async def test_fuzzed_bodies_get_a_reward_or_a_400_never_a_500(
    scorer_url: str, payload: Any
) -> None:
    status, answer = await post(scorer_url, payload)
    assert status in (200, 400), answer
    if status == 200:
        assert isinstance(answer["reward"], float)
        assert -1.0 <= answer["reward"] <= 1.0
