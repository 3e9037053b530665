"""The generator and classifier on an OpenAI-compatible server (Ollama, vLLM, llama.cpp, OpenAI).

Neither trains weights; they learn from reactions through what a version holds
(:mod:`tuning.models.openai_index`):

- the **generator** sends the system prompt, the few-shot exemplars nearest the message (approved
  replies and corrections, as earlier turns), then the message. It asks for ``n`` candidates
  with ``n`` where the server honours it (vLLM, OpenAI), else (Ollama and llama.cpp answer one
  choice whatever ``n`` says) with concurrent calls, each with its own seed. The candidates
  are reranked by the version's reward model in :func:`tuning.models.ranking.best_replies`:
  best-of-n, which is rejection sampling against the reward model learnt from 👍 and 👎;
- the **classifier** sends labelled messages from channel feedback the same way and asks for one
  label word at temperature 0. P(sarcastic) comes from the first label token's top logprobs where
  the server returns them (vLLM, llama.cpp, OpenAI); otherwise each label reports the
  probability evaluation calibrated on validation (:mod:`tuning.models.label_calibration`).

A malformed answer (no choices, empty content, a chunk that is not JSON) is logged once and
becomes a :class:`ModelError`, never a crash. Model output is never logged at INFO or above.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import AsyncGenerator, Collection, Mapping, Sequence
from typing import Any

import httpx2
import openai
from openai.types.chat import ChatCompletionMessageParam

from tuning.config import OpenAISettings
from tuning.errors import ModelError
from tuning.models.few_shot import Exemplar, LabelledExample, select
from tuning.models.label_calibration import LOGPROBS, Answer, LabelWordClassifier, parse_label
from tuning.models.openai_client import build_client, model_error
from tuning.models.reward import RewardModel
from tuning.prompts import CLASSIFIER_SYSTEM_PROMPT, GENERATOR_SYSTEM_PROMPT, LABEL_WORDS
from tuning.records import Candidate, Label
from tuning.text import normalize

log = logging.getLogger(__name__)
GENERATOR_MAX_TOKENS = 120
CLASSIFIER_MAX_TOKENS = 5
TOP_LOGPROBS = 5
SINGLE_CANDIDATE_CONCURRENCY = 4
# What a broken stream raises, besides the SDK's own errors: a cut connection, a bad chunk.
STREAM_ERRORS = (openai.OpenAIError, httpx2.HTTPError, ValueError)
_SARCASTIC = LABEL_WORDS["sarcastic"]
_NOT_SARCASTIC = LABEL_WORDS["not_sarcastic"]


class ChatModel:
    """What the generator and classifier share: a version, a server model, one client."""

    def __init__(
        self,
        *,
        version: str,
        model: str,
        settings: OpenAISettings,
        client: openai.AsyncOpenAI | None = None,
    ) -> None:
        self._version = version
        self.model = model
        self._settings = settings
        self._client = client or build_client(settings)

    @property
    def version(self) -> str:
        """The registry version this model serves."""
        return self._version

    async def aclose(self) -> None:
        """Close the client's HTTP connections."""
        await self._client.close()

    async def _create(self, messages: list[ChatCompletionMessageParam], **options: Any) -> Any:
        try:
            return await self._client.chat.completions.create(
                model=self.model, messages=messages, **options
            )
        except openai.APIResponseValidationError as exc:
            log.warning("%s sent a malformed answer (%s)", self._settings.base_url, exc.message)
            raise model_error(exc, self._settings, model=self.model) from exc
        except openai.OpenAIError as exc:
            raise model_error(exc, self._settings, model=self.model) from exc
        except ValueError as exc:  # a 200 whose body is not JSON
            log.warning("%s sent an answer that is not JSON", self._settings.base_url)
            raise ModelError(f"{self._settings.base_url} sent an unreadable answer") from exc


class OpenAIGenerator(ChatModel):
    """Write candidate replies with few-shot exemplars; ``reward`` reranks them (best-of-n)."""

    def __init__(
        self,
        *,
        version: str,
        model: str,
        settings: OpenAISettings,
        reward: RewardModel | None = None,
        exemplars: Sequence[Exemplar] = (),
        client: openai.AsyncOpenAI | None = None,
    ) -> None:
        super().__init__(version=version, model=model, settings=settings, client=client)
        self.reward = reward or RewardModel()
        self.exemplars = tuple(exemplars)
        self._several = True  # until the server answers fewer choices than ``n`` asked for

    def messages(self, prompt: str) -> list[ChatCompletionMessageParam]:
        """Return the chat turns sent for ``prompt``: system, nearest exemplars, the message."""
        shots = select(self.exemplars, prompt, budget_tokens=self._settings.few_shot_tokens)
        turns: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": GENERATOR_SYSTEM_PROMPT}
        ]
        for shot in shots:
            turns.append({"role": "user", "content": shot.prompt})
            turns.append({"role": "assistant", "content": shot.reply})
        turns.append({"role": "user", "content": prompt})
        return turns

    async def generate(
        self, prompt: str, *, n: int, exclude: Collection[str] = ()
    ) -> list[Candidate]:
        """Return up to ``n`` distinct replies not in ``exclude``, in the order they came.

        Raise ModelError when the server gave no usable reply at all.
        """
        texts = await self._texts(prompt, n)
        if not texts:
            raise ModelError(f"{self.model} returned no usable reply")
        shown = {normalize(text) for text in exclude}
        unique = {normalize(t): t for t in reversed(texts) if normalize(t) not in shown}
        ordered = list(unique.values())[::-1]
        return [Candidate(text=text, score=0.0) for text in ordered[:n]]

    async def stream(self, prompt: str) -> AsyncGenerator[str, None]:
        """Yield one reply as it is written, piece by piece; raise ModelError if it breaks off."""
        stream = await self._create(
            self.messages(prompt),
            stream=True,
            temperature=self._settings.temperature,
            max_tokens=GENERATOR_MAX_TOKENS,
        )
        written, finished = 0, False
        try:
            async for chunk in stream:
                piece = _delta(chunk)
                finished = finished or _finished(chunk)
                if piece:
                    written += len(piece)
                    yield piece
        except STREAM_ERRORS as exc:
            raise self._broken(written, type(exc).__name__) from exc
        finally:
            await stream.close()
        if not finished:  # the connection ended before a finish_reason: cut off, not done
            raise self._broken(written, "no finish_reason")

    def _broken(self, written: int, why: str) -> ModelError:
        log.warning(
            "the reply stream from %s broke off after %d characters (%s)",
            self._settings.base_url,
            written,
            why,
        )
        return ModelError(f"the reply from {self.model} broke off halfway")

    async def _texts(self, prompt: str, n: int) -> list[str]:
        texts: list[str] = []
        if self._several and n > 1:
            response = await self._call(prompt, n=n)
            texts = _contents(response, self._settings.base_url)
            if not _choices(response):
                raise ModelError(f"{self.model} returned no usable reply")  # logged just now
            if len(_choices(response)) >= n:
                return texts
            log.info("%s answers one choice per call; asking %d times instead", self.model, n)
            self._several = False  # for this server, from now on
        return texts + await self._singles(prompt, n - len(texts))

    async def _singles(self, prompt: str, n: int) -> list[str]:
        """Make ``n`` one-choice calls, a few at a time, each with its own seed."""
        gate = asyncio.Semaphore(SINGLE_CANDIDATE_CONCURRENCY)
        first = random.randrange(2**31 - n)  # a fresh draw per reply, so "try again" differs

        async def one(seed: int) -> list[str]:
            async with gate:
                return _contents(await self._call(prompt, seed=seed), self._settings.base_url)

        answers = await asyncio.gather(*(one(first + i) for i in range(n)))
        return [text for texts in answers for text in texts]

    async def _call(self, prompt: str, *, n: int = 1, seed: int | None = None) -> Any:
        options: dict[str, Any] = {"n": n} if n > 1 else {}
        if seed is not None:
            options["seed"] = seed
        return await self._create(
            self.messages(prompt),
            temperature=self._settings.temperature,
            max_tokens=GENERATOR_MAX_TOKENS,
            **options,
        )


class OpenAIClassifier(ChatModel, LabelWordClassifier):
    """Label texts with few-shot labelled examples from channel feedback."""

    def __init__(
        self,
        *,
        version: str,
        model: str,
        settings: OpenAISettings,
        examples: Sequence[LabelledExample] = (),
        metrics: dict[str, float] | None = None,
        client: openai.AsyncOpenAI | None = None,
    ) -> None:
        super().__init__(version=version, model=model, settings=settings, client=client)
        self.examples = tuple(examples)
        self._metrics = dict(metrics or {})
        self._logprobs = bool(self._metrics.get(LOGPROBS, 1.0))

    @property
    def uses_logprobs(self) -> bool:
        """Whether this version is asked for logprobs (False once the server refused them)."""
        return self._logprobs

    def messages(self, text: str) -> list[ChatCompletionMessageParam]:
        """Return the chat turns sent to label ``text``."""
        shots = select(self.examples, text, budget_tokens=self._settings.few_shot_tokens)
        turns: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": CLASSIFIER_SYSTEM_PROMPT}
        ]
        for shot in shots:
            turns.append({"role": "user", "content": shot.text})
            turns.append({"role": "assistant", "content": LABEL_WORDS[shot.label]})
        turns.append({"role": "user", "content": text})
        return turns

    def _calibration(self) -> tuple[Mapping[str, Any], float]:
        return self._metrics, 0.9

    async def _answer(self, text: str) -> Answer:
        asked = self._logprobs
        options: dict[str, Any] = {"temperature": 0.0, "max_tokens": CLASSIFIER_MAX_TOKENS}
        logprobs = {"logprobs": True, "top_logprobs": TOP_LOGPROBS} if asked else {}
        try:
            response = await self._create(self.messages(text), **options, **logprobs)
        except ModelError as exc:
            if not (asked and _refused_logprobs(exc.__cause__)):
                raise
            if self._logprobs:
                log.info("%s refuses logprobs; asking without", self.model)
            self._logprobs = False  # for this version, from now on
            response = await self._create(self.messages(text), **options)
        choices = _choices(response)
        content = _content(choices[0]) if choices else ""
        label = parse_label(content)
        if label is None:
            log.warning("%s answered off-format (%d characters)", self.model, len(content))
            return Answer(label=None)
        return Answer(label=label, logprob_probability=sarcastic_probability(choices[0], label))


def sarcastic_probability(choice: Any, label: Label) -> float | None:
    """Return P(sarcastic) from a choice's logprobs, or None when it has none.

    At the first token whose top alternatives start a label word, compare the probability mass
    of tokens starting SARCASTIC with those starting NOT_SARCASTIC. Without alternatives, use
    the chosen tokens' joint probability for the label that was produced.
    """
    content = getattr(getattr(choice, "logprobs", None), "content", None)
    if not isinstance(content, list) or not content:
        return None
    for step in content:
        yes = no = 0.0
        for token in getattr(step, "top_logprobs", None) or []:
            word = str(getattr(token, "token", "")).strip().upper().replace(" ", "_")
            logprob = getattr(token, "logprob", None)
            if not word or not isinstance(logprob, int | float):
                continue
            yes += math.exp(logprob) if _SARCASTIC.startswith(word) else 0.0
            no += math.exp(logprob) if _NOT_SARCASTIC.startswith(word) else 0.0
        if yes + no > 0:
            return yes / (yes + no)
    chosen = [getattr(step, "logprob", None) for step in content]
    numbers = [float(lp) for lp in chosen if isinstance(lp, int | float)]
    if len(numbers) != len(chosen):
        return None
    joint = math.exp(sum(numbers))
    return joint if label == "sarcastic" else 1.0 - joint


def _refused_logprobs(cause: BaseException | None) -> bool:
    """Return whether a 400 refused the logprobs parameters (servers that do not offer them)."""
    if not isinstance(cause, openai.BadRequestError):
        return False
    body = cause.body if isinstance(cause.body, dict) else {}
    return "logprobs" in str(body.get("param") or "") or "logprobs" in cause.message.lower()


def _choices(response: Any) -> list[Any]:
    choices = getattr(response, "choices", None)
    return choices if isinstance(choices, list) else []


def _content(choice: Any) -> str:
    content = getattr(getattr(choice, "message", None), "content", None)
    return content.strip() if isinstance(content, str) else ""


def _contents(response: Any, server: str) -> list[str]:
    """Return the non-empty replies of a completion, logging once when there are none."""
    choices = _choices(response)
    texts = [text for text in map(_content, choices) if text]
    if not texts:
        what = "no choices" if not choices else "only empty replies"
        log.warning("%s answered with %s", server, what)
    return texts


def _finished(chunk: Any) -> bool:
    choices = getattr(chunk, "choices", None)
    if not isinstance(choices, list) or not choices:
        return False
    return getattr(choices[0], "finish_reason", None) is not None


def _delta(chunk: Any) -> str:
    choices = getattr(chunk, "choices", None)
    if not isinstance(choices, list) or not choices:
        return ""
    content = getattr(getattr(choices[0], "delta", None), "content", None)
    return content if isinstance(content, str) else ""
