"""A fake OpenAI-compatible server, as strict as the OpenAI API, for the real ``openai`` SDK.

It speaks the Chat Completions wire format (https://platform.openai.com/docs/api-reference/chat):

- ``GET /v1/models`` lists the served models;
- ``POST /v1/chat/completions`` checks the body as OpenAI does, then answers with scripted
  replies: ``n`` choices (or one, like Ollama and llama.cpp, with ``honours_n=False``), the
  ``seed`` handed to the script, ``logprobs``/``top_logprobs`` per token where ``logprobs`` is
  served, and ``stream`` as SSE ``data:`` chunks ending in ``data: [DONE]``.

Every request is recorded with its JSON body. Faults can be injected for the next requests (429
with ``Retry-After``, 500), the first token delayed, each streamed token delayed, a stream cut
after some chunks, and the next answer replaced by raw text (malformed bodies and chunks).
Errors have OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``. What each rule
stands on is listed in ``tests/fakes/SOURCES.md``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

JsonDict = dict[str, Any]
# (request body, choice index, seed) -> the reply text, or (text, top alternatives of token 1).
Script = Callable[[JsonDict, int, int | None], "str | Scripted"]
ALLOWED = frozenset(
    {"model", "messages", "n", "seed", "logprobs", "top_logprobs", "stream", "stream_options"}
    | {"temperature", "max_tokens", "max_completion_tokens", "top_p", "stop", "user"}
)
ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
MAX_N = 128
MAX_TOP_LOGPROBS = 20
TOKEN = re.compile(r"\s*\S+")
CHOSEN_LOGPROB = -0.05


@dataclass(frozen=True)
class Scripted:
    """A scripted reply whose first token has these (token, logprob) alternatives on top."""

    text: str
    top: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Fault:
    """An injected error answer: its status, and Retry-After seconds for a 429."""

    status: int
    retry_after: float | None = None


class ApiError(Exception):
    """An error answer in OpenAI's shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.param, self.code = status, param, code
        self.retry_after = retry_after

    def response(self) -> web.Response:
        kind = "invalid_request_error" if self.status < 500 else "server_error"
        kind = "requests" if self.status == 429 else kind
        body = {"message": str(self), "type": kind, "param": self.param, "code": self.code}
        return web.json_response({"error": body}, status=self.status)


def default_script(body: JsonDict, index: int, seed: int | None) -> str:
    """Answer every prompt with one of a few dry replies, chosen by seed and choice index."""
    replies = ("Oh, wonderful.", "What a treat.", "Truly the highlight of my week.", "Bliss.")
    return replies[((seed or 0) + index) % len(replies)]


@dataclass
class FakeOpenAI:
    """The fake server's state; ``app()`` returns the aiohttp application serving it."""

    models: tuple[str, ...] = ("sarcasm-7b",)
    script: Script = default_script
    honours_n: bool = True
    serves_logprobs: bool = True
    refuses_logprobs: bool = False  # a 400 for logprobs, as some compatible servers answer
    api_key: str | None = None  # None: any key or none, like a local server
    faults: list[Fault] = field(default_factory=list)
    first_token_delay: float = 0.0
    token_delay: float = 0.0
    cut_stream_after: int | None = None  # content chunks sent before the connection drops
    raw_answers: list[str] = field(default_factory=list)  # next bodies (or SSE chunk lists)
    requests: list[JsonDict] = field(default_factory=list)
    url: str = ""
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def app(self) -> web.Application:
        """Return the application serving ``/v1/models`` and ``/v1/chat/completions``."""
        app = web.Application()
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/chat/completions", self._completions)
        return app

    def chat_bodies(self) -> list[JsonDict]:
        """Return the bodies of the chat requests received, in order."""
        return [body for body in self.requests if "messages" in body]

    async def _models(self, request: web.Request) -> web.StreamResponse:
        try:
            self._authorize(request)
        except ApiError as error:
            return error.response()
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models]
        return web.json_response({"object": "list", "data": data})

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        try:
            self._authorize(request)
            try:
                body = await request.json()
            except json.JSONDecodeError:
                raise ApiError(400, "We could not parse the JSON body of your request.") from None
            if not isinstance(body, dict):
                raise ApiError(400, "The request body must be a JSON object.")
            self.requests.append(body)
            if self.faults:
                raise_fault(self.faults.pop(0))
            check_body(body, self.models)
            if self.refuses_logprobs and body.get("logprobs"):
                raise ApiError(400, "logprobs is not supported", param="logprobs")
        except ApiError as error:
            return fault_response(error)
        if self.first_token_delay:
            await asyncio.sleep(self.first_token_delay)
        if self.raw_answers:
            return await self._raw(request, body, self.raw_answers.pop(0))
        choices = self._choices(body)
        if body.get("stream"):
            return await self._stream(request, body, choices)
        return web.json_response(self._completion(body, choices))

    def _authorize(self, request: web.Request) -> None:
        if self.api_key is None:
            return
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            raise ApiError(401, "Incorrect API key provided.", code="invalid_api_key")

    def _choices(self, body: JsonDict) -> list[Scripted]:
        count = int(body.get("n") or 1) if self.honours_n else 1
        seed = body.get("seed")
        answers = [self.script(body, index, seed) for index in range(count)]
        return [a if isinstance(a, Scripted) else Scripted(a) for a in answers]

    def _completion(self, body: JsonDict, choices: list[Scripted]) -> JsonDict:
        return {
            "id": f"chatcmpl-{next(self._ids)}",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {
                    "index": index,
                    "message": {"role": "assistant", "content": choice.text},
                    "logprobs": self._logprobs(body, choice),
                    "finish_reason": "stop",
                }
                for index, choice in enumerate(choices)
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }

    def _logprobs(self, body: JsonDict, choice: Scripted) -> JsonDict | None:
        if not (body.get("logprobs") and self.serves_logprobs):
            return None
        top = int(body.get("top_logprobs") or 0)
        content = []
        for position, token in enumerate(TOKEN.findall(choice.text)):
            alternatives = list(choice.top) if position == 0 and choice.top else []
            alternatives = alternatives or [(token, CHOSEN_LOGPROB)]
            chosen = dict(alternatives).get(token, CHOSEN_LOGPROB)
            content.append(
                {
                    "token": token,
                    "logprob": chosen,
                    "bytes": list(token.encode()),
                    "top_logprobs": [
                        {"token": t, "logprob": lp, "bytes": list(t.encode())}
                        for t, lp in alternatives[:top]
                    ],
                }
            )
        return {"content": content, "refusal": None}

    async def _stream(
        self, request: web.Request, body: JsonDict, choices: list[Scripted]
    ) -> web.StreamResponse:
        response = await self._open_stream(request)
        base: JsonDict = {"id": f"chatcmpl-{next(self._ids)}", "object": "chat.completion.chunk"}
        base |= {"created": 0, "model": body["model"]}
        sent = 0
        for index, choice in enumerate(choices):
            deltas = [{"role": "assistant", "content": ""}]
            deltas += [{"content": token} for token in TOKEN.findall(choice.text)]
            for delta in deltas:
                if self.cut_stream_after is not None and sent >= self.cut_stream_after:
                    return self._drop(request, response)
                if self.token_delay and "role" not in delta:
                    await asyncio.sleep(self.token_delay)
                chunk = {"index": index, "delta": delta, "logprobs": None, "finish_reason": None}
                await _send(response, base | {"choices": [chunk]})
                sent += "role" not in delta
            if self.cut_stream_after is not None and sent >= self.cut_stream_after:
                return self._drop(request, response)
            end = {"index": index, "delta": {}, "logprobs": None, "finish_reason": "stop"}
            await _send(response, base | {"choices": [end]})
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def _raw(self, request: web.Request, body: JsonDict, raw: str) -> web.StreamResponse:
        if not body.get("stream"):
            return web.Response(text=raw, content_type="application/json")
        response = await self._open_stream(request)
        for line in raw.split("\n"):
            await response.write(f"data: {line}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def _open_stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        return response

    def _drop(self, request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        """Close the connection mid-stream, as a crashed server or a proxy timeout does."""
        if request.transport is not None:
            request.transport.close()
        return response


async def _send(response: web.StreamResponse, chunk: JsonDict) -> None:
    await response.write(f"data: {json.dumps(chunk)}\n\n".encode())


def raise_fault(fault: Fault) -> None:
    """Raise the injected error as the real API words it."""
    if fault.status == 429:
        raise ApiError(
            429,
            "Rate limit reached for requests.",
            code="rate_limit_exceeded",
            retry_after=fault.retry_after,
        )
    raise ApiError(fault.status, "The server had an error while processing your request.")


def fault_response(error: ApiError) -> web.Response:
    """Return an error response, with Retry-After on a 429."""
    response = error.response()
    retry_after = error.retry_after
    if retry_after is not None:
        # OpenAI sends both; the SDK reads retry-after-ms first (openai/_base_client.py).
        response.headers["Retry-After"] = str(max(1, round(retry_after)))
        response.headers["retry-after-ms"] = str(int(retry_after * 1000))
    return response


def check_body(body: JsonDict, models: tuple[str, ...]) -> None:
    """Refuse what the Chat Completions API refuses (tests/fakes/SOURCES.md)."""
    unknown = sorted(set(body) - ALLOWED)
    if unknown:
        raise ApiError(400, f"Unrecognized request argument supplied: {unknown[0]}")
    model = body.get("model")
    if not model:
        raise ApiError(400, "you must provide a model parameter")
    if model not in models:
        raise ApiError(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            code="model_not_found",
        )
    _check_messages(body.get("messages"))
    _check_int(body, "n", 1, MAX_N)
    _check_number(body, "temperature", 0.0, 2.0)
    if "seed" in body and body["seed"] is not None and not isinstance(body["seed"], int):
        raise ApiError(400, "Invalid type for 'seed': expected an integer.", param="seed")
    if body.get("top_logprobs") is not None:
        if not body.get("logprobs"):
            raise ApiError(
                400,
                "Invalid value for 'top_logprobs': logprobs must be set to true.",
                param="top_logprobs",
            )
        _check_int(body, "top_logprobs", 0, MAX_TOP_LOGPROBS)
    if body.get("stream_options") is not None and not body.get("stream"):
        raise ApiError(
            400,
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            param="stream_options",
        )


def _check_messages(messages: object) -> None:
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "[] is too short - 'messages'", param="messages", code="empty_array")
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise ApiError(400, f"Invalid value for '{where}.role'.", param=f"{where}.role")
        if not isinstance(message.get("content"), str):
            raise ApiError(400, f"Invalid type for '{where}.content'.", param=f"{where}.content")


def _check_int(body: JsonDict, name: str, low: int, high: int) -> None:
    value = body.get(name)
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        raise ApiError(400, f"Invalid type for '{name}': expected an integer.", param=name)
    if value < low:
        raise ApiError(
            400,
            f"Invalid '{name}': integer below minimum value. Expected a value >= {low}, "
            f"but got {value} instead.",
            param=name,
            code="integer_below_min_value",
        )
    if value > high:
        raise ApiError(
            400,
            f"Invalid '{name}': integer above maximum value. Expected a value <= {high}, "
            f"but got {value} instead.",
            param=name,
            code="integer_above_max_value",
        )


def _check_number(body: JsonDict, name: str, low: float, high: float) -> None:
    value = body.get(name)
    if value is None:
        return
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ApiError(400, f"Invalid type for '{name}': expected a number.", param=name)
    if not low <= value <= high:
        code = "decimal_below_min_value" if value < low else "decimal_above_max_value"
        raise ApiError(
            400, f"Invalid '{name}': expected a value from {low} to {high}.", param=name, code=code
        )


async def start_fake_openai(fake: FakeOpenAI) -> web.AppRunner:
    """Serve ``fake`` on a free 127.0.0.1 port, set ``fake.url`` (ending in /v1), return runner."""
    runner = web.AppRunner(fake.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    fake.url = f"http://127.0.0.1:{port}/v1"
    return runner
