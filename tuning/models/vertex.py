"""The tuned Gemini classifier and generator, called on their Vertex AI endpoints.

Both send the same system prompt the model was tuned with. The classifier asks for one label word
at temperature 0. It takes P(sarcastic) from the first label token's logprobs where the model
gives them; Vertex refuses logprobs on Gemini 3 and later, so there (``VERTEX_LOGPROBS`` empty)
each label reports the probability evaluation calibrated for the version
(:mod:`tuning.models.label_calibration`). A version that refuses logprobs although it was
expected to give them is asked once more without, and never again. The generator asks for
several candidates per call where the model allows it, and otherwise makes one call per
candidate, a few at a time, each with its own seed. Thinking is kept minimal, as Vertex advises
for tuned models (https://cloud.google.com/vertex-ai/generative-ai/docs/models/gemini-supervised-tuning).
Model output is never logged at INFO or above: it is what users wrote about, reworded.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from google.genai import types

from tuning.cloud.vertex_client import CALL_ERRORS, backend_error, build_client, refused
from tuning.errors import ModelError
from tuning.models.label_calibration import LOGPROBS, Answer, LabelWordClassifier, parse_label
from tuning.prompts import CLASSIFIER_SYSTEM_PROMPT, GENERATOR_SYSTEM_PROMPT, LABEL_WORDS
from tuning.records import Candidate, Label, ModelVersion

if TYPE_CHECKING:
    from google import genai

    from tuning.config import Settings

# Answer and parse_label live in label_calibration, shared with the OpenAI-compatible classifier.
__all__ = ["Answer", "VertexClassifier", "VertexGenerator", "parse_label", "sarcastic_probability"]
log = logging.getLogger(__name__)

CLASSIFIER_MAX_TOKENS = 16
GENERATOR_MAX_TOKENS = 256
MAX_CANDIDATES_PER_CALL = 8  # Vertex AI's candidateCount limit
TOP_LOGPROBS = 5
SINGLE_CANDIDATE_CONCURRENCY = 4  # calls in flight for one reply when each gives one candidate
# What Vertex's 400 says when a model refuses a feature (tests/fakes/SOURCES.md).
LOGPROBS_REFUSAL = "logprobs is not supported"
CANDIDATES_REFUSAL = "multiple candidates is not enabled"
MINIMAL_THINKING = types.ThinkingConfig(thinking_level=types.ThinkingLevel.MINIMAL)
_SARCASTIC = LABEL_WORDS["sarcastic"]
_NOT_SARCASTIC = LABEL_WORDS["not_sarcastic"]


def sarcastic_probability(candidate: types.Candidate, label: Label) -> float | None:
    """Return P(sarcastic) from a candidate's logprobs, or None when it has none.

    At the first step whose top tokens start a label word, compare the probability mass of
    tokens starting SARCASTIC with those starting NOT_SARCASTIC. Without top tokens, use the
    chosen tokens' joint probability for the label that was produced.
    """
    result = candidate.logprobs_result
    if result is None:
        return None
    for step in result.top_candidates or []:
        yes = no = 0.0
        for token in step.candidates or []:
            word = (token.token or "").strip().upper().replace(" ", "_")
            if not word or token.log_probability is None:
                continue
            mass = math.exp(token.log_probability)
            yes += mass if _SARCASTIC.startswith(word) else 0.0
            no += mass if _NOT_SARCASTIC.startswith(word) else 0.0
        if yes + no > 0:
            return yes / (yes + no)
    chosen = [c.log_probability for c in result.chosen_candidates or []]
    if not chosen or any(lp is None for lp in chosen):
        return None
    joint = math.exp(sum(lp for lp in chosen if lp is not None))
    return joint if label == "sarcastic" else 1.0 - joint


def endpoint_client(settings: Settings, **options: Any) -> genai.Client:
    """Build the client that calls tuned endpoints (options: base_url, credentials, retry).

    Tuned endpoints live in the tuning region, so that is the client's location.
    """
    return build_client(settings.vertex, location=settings.vertex.region, **options)


class TunedEndpoint:
    """What the tuned classifier and generator share: one registered version, one client."""

    def __init__(
        self, model: ModelVersion, settings: Settings, *, client: genai.Client | None = None
    ) -> None:
        self._model = model
        self._vertex = settings.vertex
        self._client = client or endpoint_client(settings)

    @property
    def version(self) -> str:
        """The registry version this model serves."""
        return self._model.version

    async def aclose(self) -> None:
        """Close the client's HTTP session."""
        await self._client.aio.aclose()

    async def _call(
        self, text: str, config: types.GenerateContentConfig
    ) -> types.GenerateContentResponse:
        try:
            return await self._client.aio.models.generate_content(
                model=self._model.artifact, contents=text, config=config
            )
        except CALL_ERRORS as exc:
            error = backend_error(
                exc, action="call the tuned model", attempts=self._vertex.retry_attempts
            )
            raise ModelError(str(error)) from exc


class VertexClassifier(TunedEndpoint, LabelWordClassifier):
    """Label texts with a tuned Gemini endpoint."""

    def __init__(
        self, model: ModelVersion, settings: Settings, *, client: genai.Client | None = None
    ) -> None:
        super().__init__(model, settings, client=client)
        known = model.metrics.get(LOGPROBS)
        self._logprobs = bool(known) if known is not None else settings.vertex.classifier_logprobs

    @property
    def uses_logprobs(self) -> bool:
        """Whether this version is asked for logprobs (False once it refused them)."""
        return self._logprobs

    def _calibration(self) -> tuple[Mapping[str, Any], float]:
        return self._model.metrics, self._vertex.label_confidence

    async def _answer(self, text: str) -> Answer:
        asked = self._logprobs
        try:
            response = await self._call(text, self._config(logprobs=asked))
        except ModelError as exc:
            if not (asked and refused(exc.__cause__, LOGPROBS_REFUSAL)):
                raise
            if self._logprobs:
                log.info("tuned classifier %s refuses logprobs; asking without", self.version)
            self._logprobs = False  # for this version, from now on
            response = await self._call(text, self._config(logprobs=False))
        candidate = response.candidates[0] if response.candidates else None
        answer = _text(candidate)
        label = parse_label(answer)
        if candidate is None or label is None:
            log.warning(
                "tuned classifier %s answered off-format (%d characters)", self.version, len(answer)
            )
            return Answer(label=None)
        return Answer(label=label, logprob_probability=sarcastic_probability(candidate, label))

    def _config(self, *, logprobs: bool) -> types.GenerateContentConfig:
        return types.GenerateContentConfig(
            system_instruction=CLASSIFIER_SYSTEM_PROMPT,
            temperature=0.0,
            max_output_tokens=CLASSIFIER_MAX_TOKENS,
            response_logprobs=logprobs or None,
            logprobs=TOP_LOGPROBS if logprobs else None,
            thinking_config=MINIMAL_THINKING,
        )


class VertexGenerator(TunedEndpoint):
    """Write candidate replies with a tuned Gemini endpoint."""

    def __init__(
        self, model: ModelVersion, settings: Settings, *, client: genai.Client | None = None
    ) -> None:
        super().__init__(model, settings, client=client)
        self._several = settings.vertex.generator_multiple_candidates

    async def generate(self, prompt: str, *, n: int) -> list[Candidate]:
        """Return up to ``n`` distinct replies, best first by the model's mean token logprob."""
        responses = await self._responses(prompt, n)
        best: dict[str, float] = {}
        for response in responses:
            for candidate in response.candidates or []:
                text = _text(candidate)
                score = candidate.avg_logprobs if candidate.avg_logprobs is not None else 0.0
                if text and score >= best.get(text, -math.inf):
                    best[text] = score
        if not best:
            raise ModelError(f"the tuned generator {self.version} returned no usable reply")
        ranked = sorted(best.items(), key=lambda item: item[1], reverse=True)
        return [Candidate(text=text, score=score) for text, score in ranked[:n]]

    async def _responses(self, prompt: str, n: int) -> list[types.GenerateContentResponse]:
        if self._several and n > 1:
            sizes = [MAX_CANDIDATES_PER_CALL] * (n // MAX_CANDIDATES_PER_CALL)
            sizes += [n % MAX_CANDIDATES_PER_CALL] if n % MAX_CANDIDATES_PER_CALL else []
            calls = (self._generate(prompt, size) for size in sizes)
            results = await asyncio.gather(*calls, return_exceptions=True)
            failures = [r for r in results if isinstance(r, BaseException)]
            if not failures:
                return [r for r in results if not isinstance(r, BaseException)]
            for failure in failures:
                if not refused(failure.__cause__, CANDIDATES_REFUSAL):
                    raise failure
            if self._several:
                log.info("tuned generator %s refuses several candidates a call", self.version)
            self._several = False  # for this version, from now on
        return await self._singles(prompt, n)

    async def _singles(self, prompt: str, n: int) -> list[types.GenerateContentResponse]:
        """Make ``n`` one-candidate calls, a few at a time, each with its own seed."""
        gate = asyncio.Semaphore(SINGLE_CANDIDATE_CONCURRENCY)
        first = random.randrange(2**31 - n)  # a fresh draw per reply, so "try again" differs

        async def one(seed: int) -> types.GenerateContentResponse:
            async with gate:
                return await self._generate(prompt, 1, seed=seed)

        return list(await asyncio.gather(*(one(first + i) for i in range(n))))

    async def _generate(
        self, prompt: str, count: int, *, seed: int | None = None
    ) -> types.GenerateContentResponse:
        config = types.GenerateContentConfig(
            system_instruction=GENERATOR_SYSTEM_PROMPT,
            temperature=self._vertex.temperature,
            candidate_count=count,
            seed=seed,
            max_output_tokens=GENERATOR_MAX_TOKENS,
            thinking_config=MINIMAL_THINKING,
        )
        return await self._call(prompt, config)


def _text(candidate: types.Candidate | None) -> str:
    if candidate is None or candidate.content is None:
        return ""
    return "".join(part.text or "" for part in candidate.content.parts or [] if not part.thought)
