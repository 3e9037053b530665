"""The reinforcement-tuning half of the fake Vertex: its spec checks and its calls to a scorer.

Vertex AI plays two roles here. At create time it checks ``reinforcementTuningSpec`` (see
``SOURCES.md`` for what each refusal stands on); during the job, and in
``tuningJobs:validateReinforcementTuningReward``, it POSTs each sampled response to the Cloud
Run reward scorer with the documented body and reads ``{"reward": float}`` back
(``ReinforcementTuningCloudRunRewardScorer`` in google-genai's ``types.py``).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import aiohttp

JsonDict = dict[str, Any]
SPEC_KEYS = frozenset(
    {
        "trainingDatasetUri",
        "validationDatasetUri",
        "hyperParameters",
        "singleRewardConfig",
        "compositeRewardConfig",
    }
)
HYPER_KEYS = frozenset(
    {
        "epochCount",
        "stepCount",
        "learningRateMultiplier",
        "adapterSize",
        "samplesPerPrompt",
        "batchSize",
        "evaluateInterval",
        "checkpointInterval",
        "maxOutputTokens",
        "thinkingLevel",
        "thinkingBudget",
    }
)
SCORERS = (
    "cloudRunRewardScorer",
    "autoraterScorer",
    "codeExecutionRewardScorer",
    "stringMatchRewardScorer",
)
MAX_OUTPUT_TOKENS = 32768  # the SDK's documented default and the fake's ceiling
DEFAULT_SAMPLES = 2  # the fake's default when samplesPerPrompt is unset (Vertex's is not public)


@dataclass(frozen=True)
class ScorerCall:
    """One POST the fake made to a reward scorer, and what came back."""

    body: JsonDict
    status: int
    reward: float | None
    seconds: float
    problem: str = ""


def spec_problem(spec: Any) -> str | None:
    """Return why Vertex would refuse this ``reinforcementTuningSpec``, or None."""
    if not isinstance(spec, dict):
        return "reinforcement_tuning_spec must be an object."
    unknown = sorted(set(spec) - SPEC_KEYS)
    if unknown:
        return f'Invalid JSON payload received. Unknown name "{unknown[0]}".'
    single, composite = spec.get("singleRewardConfig"), spec.get("compositeRewardConfig")
    if bool(single) == bool(composite):
        return "Exactly one of single_reward_config and composite_reward_config must be set."
    if single is not None:
        problem = _reward_problem(single)
        if problem:
            return problem
    hyper = spec.get("hyperParameters", {})
    if not isinstance(hyper, dict):
        return "hyper_parameters must be an object."
    unknown = sorted(set(hyper) - HYPER_KEYS)
    if unknown:
        return f'Invalid JSON payload received. Unknown name "{unknown[0]}".'
    if "epochCount" in hyper and "stepCount" in hyper:
        return "epoch_count and step_count are mutually exclusive."
    for key, low, high in (("samplesPerPrompt", 1, 64), ("maxOutputTokens", 1, MAX_OUTPUT_TOKENS)):
        value = hyper.get(key)
        if value is not None and not _int_in(value, low, high):
            return f"{key} must be an integer from {low} to {high}."
    return None


def _reward_problem(single: Any) -> str | None:
    if not isinstance(single, dict):
        return "single_reward_config must be an object."
    scorers = [key for key in SCORERS if key in single]
    if len(scorers) != 1:
        return "Exactly one reward scorer must be set in single_reward_config."
    if scorers[0] == "cloudRunRewardScorer":
        uri = _cloud_run_uri(single)
        if not _scorer_uri(uri):
            return f"cloud_run_uri {uri!r} is not an https URL of a Cloud Run service."
    return None


def _scorer_uri(uri: str) -> bool:
    """Return whether ``uri`` may name a scorer: https, or http on loopback (for tests)."""
    parsed = urlparse(uri)
    if parsed.scheme == "https" and parsed.netloc:
        return True
    return parsed.scheme == "http" and parsed.hostname in ("127.0.0.1", "localhost")


def _int_in(value: Any, low: int, high: int) -> bool:
    if isinstance(value, str) and value.isdecimal():  # int32 may arrive as a JSON string too
        value = int(value)
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def scorer_uri(spec: JsonDict) -> str:
    """Return the Cloud Run scorer's URI of a checked spec ("" for another kind of reward)."""
    return _cloud_run_uri(spec.get("singleRewardConfig") or {})


def _cloud_run_uri(single: JsonDict) -> str:
    # The SDK sends this object unconverted, in snake_case; proto3 JSON parsers accept both.
    scorer = single.get("cloudRunRewardScorer") or {}
    return str(scorer.get("cloudRunUri", scorer.get("cloud_run_uri", "")))


def reward_body(example: JsonDict, response: str, *, step: int, job_id: int) -> JsonDict:
    """Return the documented request body for one sampled ``response`` to ``example``."""
    return {
        "example": example,
        "response": {"role": "model", "parts": [{"text": response}]},
        "metadata": {"step": step, "tuning_job_id": job_id},
    }


async def call_scorer(uri: str, body: JsonDict, *, limit: float) -> ScorerCall:
    """POST ``body`` to the scorer and check the answer: a float in [-1, 1], within ``limit`` s."""
    started = time.perf_counter()
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=limit)) as session,
            session.post(uri, json=body) as answer,
        ):
            status, raw = answer.status, await answer.read()
    except (TimeoutError, aiohttp.ClientError) as exc:
        elapsed = time.perf_counter() - started
        return ScorerCall(body, 0, None, elapsed, f"no answer ({type(exc).__name__})")
    elapsed = time.perf_counter() - started
    if status != 200:
        return ScorerCall(body, status, None, elapsed, f"HTTP {status}")
    try:
        reward = json.loads(raw).get("reward")
    except (ValueError, AttributeError):
        return ScorerCall(body, status, None, elapsed, "the answer is not a JSON object")
    if isinstance(reward, bool) or not isinstance(reward, float | int) or math.isnan(reward):
        return ScorerCall(body, status, None, elapsed, "reward is not a number")
    if not -1.0 <= reward <= 1.0:
        return ScorerCall(body, status, float(reward), elapsed, "reward is outside [-1, 1]")
    return ScorerCall(body, status, float(reward), elapsed)
