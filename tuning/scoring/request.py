"""Parse the body Vertex AI posts to a Cloud Run reward scorer (pure; never echoes the text).

The contract (``ReinforcementTuningCloudRunRewardScorer`` in google-genai's ``types.py``):
``{"example": <a training line, camelCase ProtoJSON>, "response": <a Content>,
"metadata": {"step": int, "tuning_job_id": int64}}``. ProtoJSON writes an int64 as a string, so
both spellings are accepted. ``metadata`` is optional here, because a dry run
(``tunings.validate_reward``) may send none. Error messages name the field, never its value, so
they are safe to log.

>>> body = {"example": {"contents": [{"role": "user", "parts": [{"text": "It rained."}]}]},
...         "response": {"parts": [{"text": "Lovely."}]},
...         "metadata": {"step": 3, "tuning_job_id": "123"}}
>>> parsed = parse_request(body)
>>> (parsed.prompt, parsed.response, parsed.step, parsed.job_id)
('It rained.', 'Lovely.', 3, '123')
>>> parse_request({"example": {}})
Traceback (most recent call last):
...
tuning.scoring.request.RequestError: example.contents: must be a non-empty list
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tuning.records import frozen_mapping

# Past this, more text changes nothing but the cost (the classifier clips at the same length).
MAX_TEXT_CHARS = 4000
_DIGITS = 20  # an int64 has at most 19 digits and a sign


class RequestError(ValueError):
    """The body breaks the contract; the message names the field, never its content."""


@dataclass(frozen=True)
class RewardRequest:
    """What the scorer needs from one request: the prompt, the response, and where it is from."""

    prompt: str
    response: str
    references: Mapping[str, str] = field(default_factory=frozen_mapping)
    job_id: str | None = None
    step: int | None = None


def parse_request(body: Any) -> RewardRequest:
    """Return the request ``body`` describes; raise RequestError naming the first bad field."""
    if not isinstance(body, dict):
        raise RequestError("body: must be a JSON object")
    job_id, step = request_ids(body)
    example = body.get("example")
    if not isinstance(example, dict):
        raise RequestError("example: must be an object")
    contents = example.get("contents")
    if not isinstance(contents, list) or not contents:
        raise RequestError("example.contents: must be a non-empty list")
    prompts = [
        _text(turn, f"example.contents[{i}]")
        for i, turn in enumerate(contents)
        if not isinstance(turn, dict) or turn.get("role", "user") == "user"
    ]
    if not prompts or not prompts[-1].strip():
        raise RequestError("example.contents: has no user text")
    references = example.get("references", {})
    if not isinstance(references, dict) or not all(
        isinstance(value, str) for value in references.values()
    ):
        raise RequestError("example.references: must map names to text")
    if "systemInstruction" in example:
        _text(example["systemInstruction"], "example.systemInstruction")
    response = _text(body.get("response"), "response")
    return RewardRequest(
        prompt=prompts[-1][:MAX_TEXT_CHARS],
        response=response[:MAX_TEXT_CHARS],
        references=frozen_mapping({str(k): v[:MAX_TEXT_CHARS] for k, v in references.items()}),
        job_id=job_id,
        step=step,
    )


def request_ids(body: Mapping[str, Any]) -> tuple[str | None, int | None]:
    """Return the (tuning job id, step) of a request; raise RequestError if they are malformed."""
    metadata = body.get("metadata")
    if metadata is None:
        return None, None
    if not isinstance(metadata, dict):
        raise RequestError("metadata: must be an object")
    job_id = _integer(metadata.get("tuning_job_id"), "metadata.tuning_job_id")
    step = _integer(metadata.get("step"), "metadata.step")
    return (None if job_id is None else str(job_id)), step


def _integer(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise RequestError(f"{where}: must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and len(value) <= _DIGITS and value.lstrip("-").isdecimal():
        return int(value)
    raise RequestError(f"{where}: must be an integer")


def _text(content: Any, where: str) -> str:
    """Return the text parts of a Content joined, thoughts left out; other parts are ignored."""
    if not isinstance(content, dict):
        raise RequestError(f"{where}: must be an object")
    parts = content.get("parts", [])
    if not isinstance(parts, list):
        raise RequestError(f"{where}.parts: must be a list")
    texts = []
    for index, part in enumerate(parts):
        if not isinstance(part, dict):
            raise RequestError(f"{where}.parts[{index}]: must be an object")
        text = part.get("text")
        if text is None or part.get("thought") is True:
            continue
        if not isinstance(text, str):
            raise RequestError(f"{where}.parts[{index}].text: must be text")
        texts.append(text)
    return "".join(texts)
