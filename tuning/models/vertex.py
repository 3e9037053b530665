"""The tuned Gemini classifier and generator, called on their Vertex AI endpoints.

Both send the same system prompt the model was tuned with. The classifier asks for one label word
at temperature 0 and takes P(sarcastic) from the first label token's logprobs when the endpoint
returns them; otherwise each label reports a documented constant (``VERTEX_LABEL_CONFIDENCE``:
0.9 for SARCASTIC, 0.1 for NOT_SARCASTIC). Thinking is kept minimal, as Vertex advises for tuned
models (https://cloud.google.com/vertex-ai/generative-ai/docs/models/gemini-supervised-tuning).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from google.genai import types

from tuning.cloud.vertex_client import CALL_ERRORS, backend_error, build_client
from tuning.errors import ModelError
from tuning.prompts import CLASSIFIER_SYSTEM_PROMPT, GENERATOR_SYSTEM_PROMPT, LABEL_WORDS
from tuning.records import Candidate, Label, ModelVersion, Prediction

if TYPE_CHECKING:
    from google import genai

    from tuning.config import Settings

log = logging.getLogger(__name__)

CLASSIFIER_MAX_TOKENS = 16
GENERATOR_MAX_TOKENS = 256
MAX_CANDIDATES_PER_CALL = 8  # Vertex AI's candidateCount limit
TOP_LOGPROBS = 5
CONCURRENCY = 8
MINIMAL_THINKING = types.ThinkingConfig(thinking_level=types.ThinkingLevel.MINIMAL)
_SARCASTIC = LABEL_WORDS["sarcastic"]
_NOT_SARCASTIC = LABEL_WORDS["not_sarcastic"]


def parse_label(text: str) -> Label | None:
    """Return the label a model answered with, or None if it answered something else."""
    word = text.strip().upper().replace(" ", "_").strip(".!\"'`")
    if word.startswith(_NOT_SARCASTIC):
        return "not_sarcastic"
    if word.startswith(_SARCASTIC):
        return "sarcastic"
    return None


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


class VertexClassifier(TunedEndpoint):
    """Label texts with a tuned Gemini endpoint."""

    async def classify(self, texts: Sequence[str]) -> list[Prediction]:
        """Return one prediction per text, in input order, at most CONCURRENCY calls at once."""
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(text: str) -> Prediction:
            async with gate:
                return await self._classify(text)

        return list(await asyncio.gather(*(one(text) for text in texts)))

    async def _classify(self, text: str) -> Prediction:
        config = types.GenerateContentConfig(
            system_instruction=CLASSIFIER_SYSTEM_PROMPT,
            temperature=0.0,
            max_output_tokens=CLASSIFIER_MAX_TOKENS,
            response_logprobs=self._vertex.logprobs or None,
            logprobs=TOP_LOGPROBS if self._vertex.logprobs else None,
            thinking_config=MINIMAL_THINKING,
        )
        response = await self._call(text, config)
        candidate = response.candidates[0] if response.candidates else None
        answer = _text(candidate)
        label = parse_label(answer)
        if candidate is None or label is None:
            # An off-format answer is not an outage: report "don't know" below any threshold.
            log.warning("tuned classifier %s answered %r", self.version, answer[:80])
            return Prediction(text=text, label="not_sarcastic", probability=0.5)
        probability = sarcastic_probability(candidate, label)
        if probability is None:
            confidence = self._vertex.label_confidence
            probability = confidence if label == "sarcastic" else 1.0 - confidence
        return Prediction(text=text, label=label, probability=probability)


class VertexGenerator(TunedEndpoint):
    """Write candidate replies with a tuned Gemini endpoint."""

    async def generate(self, prompt: str, *, n: int) -> list[Candidate]:
        """Return up to ``n`` distinct replies, best first by the model's mean token logprob."""
        sizes = [MAX_CANDIDATES_PER_CALL] * (n // MAX_CANDIDATES_PER_CALL)
        sizes += [n % MAX_CANDIDATES_PER_CALL] if n % MAX_CANDIDATES_PER_CALL else []
        responses = await asyncio.gather(*(self._generate(prompt, size) for size in sizes))
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

    async def _generate(self, prompt: str, count: int) -> types.GenerateContentResponse:
        config = types.GenerateContentConfig(
            system_instruction=GENERATOR_SYSTEM_PROMPT,
            temperature=self._vertex.temperature,
            candidate_count=count,
            max_output_tokens=GENERATOR_MAX_TOKENS,
            thinking_config=MINIMAL_THINKING,
        )
        return await self._call(prompt, config)


def _text(candidate: types.Candidate | None) -> str:
    if candidate is None or candidate.content is None:
        return ""
    return "".join(part.text or "" for part in candidate.content.parts or [] if not part.thought)
