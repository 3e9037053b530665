"""Malformed answers from a compatible server: never a crash, and exactly one clear log line."""

from __future__ import annotations

import asyncio
import json
import logging

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes.openai_server import FakeOpenAI, start_fake_openai
from tuning.config import OpenAISettings
from tuning.errors import ModelError
from tuning.models.openai_chat import OpenAIGenerator

MODEL = "sarcasm-7b"
contents = st.one_of(st.none(), st.just(""), st.just("   "), st.integers(), st.text(max_size=20))
messages: st.SearchStrategy[object] = st.one_of(
    st.none(),
    st.fixed_dictionaries({"role": st.just("assistant"), "content": contents}),
    st.just({}),
)
choices = st.lists(
    st.one_of(st.fixed_dictionaries({"index": st.just(0), "message": messages}), st.integers()),
    max_size=3,
)
bodies = st.one_of(
    st.fixed_dictionaries({"id": st.just("x"), "object": st.just("chat.completion")}),
    st.fixed_dictionaries({"id": st.just("x"), "choices": st.one_of(choices, st.text(max_size=5))}),
    st.text(max_size=30).map(lambda t: "{" + t),  # not JSON
    st.just("[]"),
    st.just("null"),
)
chunk = st.fixed_dictionaries(
    {"choices": st.lists(st.fixed_dictionaries({"index": st.just(0), "delta": messages}))}
).map(json.dumps)
streams = st.lists(st.one_of(chunk, st.text(max_size=10).map(lambda t: "{" + t)), max_size=4)


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def answer(raw: str, *, stream: bool) -> tuple[str | None, list[logging.LogRecord]]:
    fake = FakeOpenAI(models=(MODEL,), raw_answers=[raw])
    runner = await start_fake_openai(fake)
    lines = Lines()
    logger = logging.getLogger("tuning")
    logger.addHandler(lines)
    config = OpenAISettings(base_url=fake.url, model=MODEL, retry_attempts=1, timeout_seconds=5)
    generator = OpenAIGenerator(version="v1", model=MODEL, settings=config)
    try:
        if stream:
            text: str | None = "".join([piece async for piece in generator.stream("hi")])
        else:
            text = (await generator.generate("hi", n=1))[0].text
    except ModelError:
        text = None
    finally:
        logger.removeHandler(lines)
        await generator.aclose()
        await runner.cleanup()
    return text, lines.records


def check(text: str | None, records: list[logging.LogRecord]) -> None:
    if text is None:
        assert len(records) == 1, [r.getMessage() for r in records]
        assert "\n" not in records[0].getMessage()
        assert records[0].exc_info is None  # one line, not a traceback
    else:
        assert text.strip()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies.map(lambda b: b if isinstance(b, str) else json.dumps(b)))
def test_malformed_completions(raw: str) -> None:
    text, records = asyncio.run(answer(raw, stream=False))
    check(text, records)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams.map("\n".join))
def test_malformed_streams(raw: str) -> None:
    text, records = asyncio.run(answer(raw, stream=True))
    # A stream that never says it finished is a broken stream, whatever it wrote.
    assert text is None
    check(text, records)
