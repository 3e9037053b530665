"""The fake OpenAI-compatible server refuses what the API refuses, driven by the real SDK."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.fakes.openai_server import FakeOpenAI, Fault
from tests.openai.conftest import MODEL

USER: list[Any] = [{"role": "user", "content": "the build is red"}]


@pytest.fixture
async def client(fake_openai: FakeOpenAI) -> Any:
    sdk = openai.AsyncOpenAI(base_url=fake_openai.url, api_key="k", max_retries=1)
    yield sdk
    await sdk.close()


async def test_models_lists_what_it_serves(client: Any) -> None:
    page = await client.models.list()
    assert [m.id for m in page.data] == [MODEL, "judge-1b"]


async def test_n_gives_n_choices_and_seed_reaches_the_script(
    client: Any, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script = lambda body, index, seed: f"reply {seed}-{index}"
    answer = await client.chat.completions.create(model=MODEL, messages=USER, n=3, seed=7)
    assert [c.message.content for c in answer.choices] == ["reply 7-0", "reply 7-1", "reply 7-2"]


async def test_a_server_that_ignores_n_answers_one_choice(
    client: Any, fake_openai: FakeOpenAI
) -> None:
    fake_openai.honours_n = False
    answer = await client.chat.completions.create(model=MODEL, messages=USER, n=3)
    assert len(answer.choices) == 1


@pytest.mark.parametrize(
    ("options", "status", "param", "code"),
    [
        ({"model": "gpt-nope"}, 404, None, "model_not_found"),
        ({"n": 0}, 400, "n", "integer_below_min_value"),
        ({"n": 129}, 400, "n", "integer_above_max_value"),
        ({"temperature": 2.5}, 400, "temperature", "decimal_above_max_value"),
        ({"top_logprobs": 3}, 400, "top_logprobs", None),
        ({"logprobs": True, "top_logprobs": 21}, 400, "top_logprobs", "integer_above_max_value"),
        ({"stream_options": {"include_usage": True}}, 400, "stream_options", None),
        ({"messages": []}, 400, "messages", "empty_array"),
    ],
)
async def test_refusals_have_openais_error_shape(
    client: Any, options: dict[str, Any], status: int, param: str | None, code: str | None
) -> None:
    request = {"model": MODEL, "messages": USER} | options
    with pytest.raises(openai.APIStatusError) as caught:
        await client.chat.completions.create(**request)
    assert caught.value.status_code == status
    body = caught.value.body
    assert isinstance(body, dict)
    assert set(body) == {"message", "type", "param", "code"}
    assert (body["param"], body["code"]) == (param, code)


async def test_unknown_arguments_are_refused(client: Any) -> None:
    with pytest.raises(openai.BadRequestError, match="Unrecognized request argument"):
        await client.chat.completions.create(model=MODEL, messages=USER, extra_body={"best_of": 2})


async def test_n_with_stream_streams_every_choice(client: Any, fake_openai: FakeOpenAI) -> None:
    stream = await client.chat.completions.create(model=MODEL, messages=USER, n=2, stream=True)
    seen: dict[int, str] = {}
    async for chunk in stream:
        for choice in chunk.choices:
            seen[choice.index] = seen.get(choice.index, "") + (choice.delta.content or "")
    assert seen == {0: "Oh, wonderful.", 1: "What a treat."}


async def test_a_429_is_retried_after_retry_after(client: Any, fake_openai: FakeOpenAI) -> None:
    fake_openai.faults.append(Fault(429, retry_after=0.01))
    answer = await client.chat.completions.create(model=MODEL, messages=USER)
    assert answer.choices[0].message.content
    assert len(fake_openai.chat_bodies()) == 2


async def test_logprobs_come_with_top_alternatives(client: Any, fake_openai: FakeOpenAI) -> None:
    from tests.fakes.openai_server import Scripted

    fake_openai.script = lambda body, index, seed: Scripted(
        "SARCASTIC", top=(("SARCASTIC", -0.2), ("NOT", -1.8))
    )
    answer = await client.chat.completions.create(
        model=MODEL, messages=USER, logprobs=True, top_logprobs=2
    )
    step = answer.choices[0].logprobs.content[0]
    assert step.logprob == pytest.approx(-0.2)
    assert [t.token for t in step.top_logprobs] == ["SARCASTIC", "NOT"]
