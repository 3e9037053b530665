"""A fake Vertex AI REST server, at least as strict as Vertex, for the real google-genai client.

It speaks the v1beta1 wire format the SDK uses (https://cloud.google.com/vertex-ai/docs/reference/rest):

- ``POST /v1beta1/projects/P/locations/L/tuningJobs`` checks the body as Vertex does, then
  creates a job (state QUEUED);
- ``GET /v1beta1/{name}`` advances it one step per poll: QUEUED, PENDING, RUNNING, then the
  scripted end (SUCCEEDED with ``tunedModel {model, endpoint}``, FAILED with ``error``, EXPIRED);
- ``GET /v1beta1/projects/P/locations/L/tuningJobs`` lists jobs, newest first, in pages
  (``pageSize``, ``pageToken``, ``nextPageToken``), narrowed by ``filter`` (``labels.k="v"``
  terms joined by ``AND``);
- ``POST /v1beta1/{name}:cancel`` moves a job to CANCELLING; the next poll finds it CANCELLED;
- ``POST /v1beta1/{endpoint}:generateContent`` answers with scripted candidates, refusing what
  the model behind the endpoint refuses (logprobs on Gemini 3 and later, several candidates);
- ``POST /token`` is an OAuth2 token endpoint for Application Default Credentials.

A ``reinforcementTuningSpec`` job with a Cloud Run reward scorer is checked as Vertex checks it,
and on the poll that ends it the fake plays Vertex: it reads the uploaded training set through
``read_dataset``, samples ``samplesPerPrompt`` responses per prompt (``rollout_responses``),
POSTs each to the scorer and fails the job if an answer is not a float in [-1, 1] within
``scorer_timeout``. ``POST {parent}/tuningJobs:validateReinforcementTuningReward`` calls the
scorer once. Every call is kept in ``scorer_calls`` (see ``vertex_reinforcement.py``).

Every request is recorded with its JSON body. Errors (429 with ``Retry-After``, 500, 403) can be
injected for the next N requests, before or after the request takes effect, and a connection can
be dropped after a create took effect. Requests without ``Authorization: Bearer <token>`` get a
401. Errors have Google's shape, ``{"error": {"code", "message", "status"}}``.

What each refusal stands on (re-check these as Vertex changes) is listed in
``tests/fakes/SOURCES.md``; messages marked there as unverified are our own wording.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes.vertex_reinforcement import (
    DEFAULT_SAMPLES,
    ScorerCall,
    call_scorer,
    reward_body,
    scorer_uri,
    spec_problem,
)

JsonDict = dict[str, Any]
Responder = Callable[[JsonDict], list[JsonDict]]
Rollouts = Callable[[JsonDict], list[str]]  # a training line -> the responses sampled for it
SPECS = ("supervisedTuningSpec", "preferenceOptimizationSpec", "reinforcementTuningSpec")
VALIDATE_REWARD = ":validateReinforcementTuningReward"

STATUS_NAMES = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}
STATUS_NAMES |= {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
PROGRESS = ("JOB_STATE_QUEUED", "JOB_STATE_PENDING", "JOB_STATE_RUNNING")
ENDED = {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"}
# Base models the fake tunes (SOURCES.md: the tuning API's supported-models list). Gemini 2.5
# Flash stays for tests of a model that does return logprobs and several candidates.
TUNABLE_MODELS = frozenset(
    {
        "gemini-3.5-flash",
        "gemini-3.5-flash-lite",
        "gemini-3.1-flash-lite",
        "gemini-2.5-pro",
        "gemini-2.5-flash",
        "gemini-2.5-flash-lite",
    }
)
# The adapter sizes Vertex offers Gemini models; the SDK's enum also has THIRTY_TWO.
ADAPTER_SIZES = frozenset(
    {"ADAPTER_SIZE_ONE", "ADAPTER_SIZE_TWO", "ADAPTER_SIZE_FOUR", "ADAPTER_SIZE_EIGHT"}
    | {"ADAPTER_SIZE_SIXTEEN"}
)
# What an endpoint registered with respond() serves when no job of the fake deployed it.
DEFAULT_SERVED_MODEL = "gemini-3.5-flash-lite"
MAX_CANDIDATES = 8
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
LOGPROBS_REFUSED = (
    "Unable to submit request because Logprobs is not supported for this model. Learn more: "
    "https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/gemini"
)
CANDIDATES_REFUSED = "Multiple candidates is not enabled for this model"
_LABEL_TERM = re.compile(r'^labels\.([a-z][a-z0-9_-]*)\s*=\s*(?:"([^"]*)"|([a-z0-9_-]*))$')
_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")


def gemini_generation(model: str) -> int:
    """Return the major Gemini version a model id names (0 when it names none)."""
    found = re.match(r"(?:.*/)?gemini-(\d+)", model)
    return int(found.group(1)) if found else 0


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    body: JsonDict
    headers: dict[str, str]
    query: dict[str, str] = field(default_factory=dict)


@dataclass
class Outcome:
    """How a job ends: ``SUCCEEDED``, ``FAILED`` (with ``error``) or ``EXPIRED``."""

    state: str = "SUCCEEDED"
    error_code: int = 3
    error_message: str = ""


@dataclass
class _Injected:
    status: int
    remaining: int
    retry_after: int | None
    match: str
    after: bool = False
    method: str = ""
    drop: bool = False


@dataclass
class FakeJob:
    """A tuning job held by the fake; ``doc`` is what GET returns."""

    doc: JsonDict
    outcome: Outcome
    base_model: str
    step: int = 0
    cancelling: int = 0
    rolled_out: bool = False


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class FakeVertex:
    """The fake's state and control API; ``url`` is set once it is serving.

    ``multiple_candidates`` None refuses ``candidateCount`` > 1 on Gemini 3 and later only;
    True or False decides for every model. ``cancelling_polls`` is how many polls a cancelled
    job shows JOB_STATE_CANCELLING before JOB_STATE_CANCELLED.
    """

    token: str = "test"
    requests: list[Recorded] = field(default_factory=list)
    jobs: dict[str, FakeJob] = field(default_factory=dict)
    endpoints: dict[str, str] = field(default_factory=dict)
    url: str = ""
    multiple_candidates: bool | None = None
    cancelling_polls: int = 1
    read_dataset: Callable[[str], str] | None = None
    rollout_responses: Rollouts | None = None
    scorer_timeout: float = 5.0
    scorer_calls: list[ScorerCall] = field(default_factory=list)
    _outcomes: list[Outcome] = field(default_factory=list)
    _injected: list[_Injected] = field(default_factory=list)
    _responders: dict[str, Responder] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # --- control API -----------------------------------------------------------------------
    def script_outcome(self, state: str = "SUCCEEDED", *, message: str = "", code: int = 3) -> None:
        """Make the next created job end in ``state`` (``error`` carries ``message`` on FAILED)."""
        self._outcomes.append(Outcome(state, code, message))

    def inject(
        self,
        status: int,
        *,
        times: int = 1,
        retry_after: int | None = None,
        match: str = "",
        after: bool = False,
        method: str = "",
    ) -> None:
        """Answer the next ``times`` requests matching ``method`` and ``match`` with ``status``.

        With ``after``, the request takes effect first (a job is created) and the answer is lost
        anyway, as when a gateway fails after the backend did the work.
        """
        self._injected.append(_Injected(status, times, retry_after, match, after, method.upper()))

    def drop_connection(self, *, times: int = 1, match: str = "", method: str = "") -> None:
        """Apply the next ``times`` matching requests, then close the connection unanswered."""
        self._injected.append(_Injected(0, times, None, match, True, method.upper(), drop=True))

    def respond(self, endpoint: str, responder: Responder, *, model: str | None = None) -> None:
        """Answer generateContent on ``endpoint`` with ``responder(request_body)`` candidates.

        ``model`` is the base model the endpoint serves; by default the one its job tuned, or
        DEFAULT_SERVED_MODEL for an endpoint no job of the fake deployed.
        """
        self._responders[endpoint] = responder
        if model is not None or endpoint not in self.endpoints:
            self.endpoints[endpoint] = model or DEFAULT_SERVED_MODEL

    def bodies(self, method: str, suffix: str) -> list[JsonDict]:
        """Return the bodies of recorded requests whose path ends with ``suffix``."""
        return [r.body for r in self.requests if r.method == method and r.path.endswith(suffix)]

    # --- the HTTP side -----------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Route one request, recording it first."""
        raw = await request.read()
        form = request.content_type == "application/x-www-form-urlencoded"
        body = json.loads(raw) if raw and not form else {}
        path = request.path
        query = dict(request.query)
        self.requests.append(Recorded(request.method, path, body, dict(request.headers), query))
        if path == "/token":
            # An OAuth2 token endpoint, so Application Default Credentials can refresh here.
            return web.json_response(
                {"access_token": self.token, "token_type": "Bearer", "expires_in": 3600}
            )
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _error(401, "Request had invalid authentication credentials.")
        injected = self._take_injected(request.method, path)
        if injected is not None and not injected.after:
            return _injected_error(injected)
        try:
            if request.method == "POST" and path.endswith(VALIDATE_REWARD):
                response = await self._validate_reward(body)
            else:
                job = self.jobs.get(path.removeprefix("/v1beta1/"))
                if request.method == "GET" and job is not None:
                    await self._roll_out(job)
                response = self._route(request.method, path, body, query)
        except _Refused as refused:
            response = _error(refused.status, refused.message)
        if injected is not None and injected.drop:
            # The work is done; the answer never arrives (aiohttp: ServerDisconnectedError).
            assert request.transport is not None
            request.transport.abort()
            raise web.HTTPInternalServerError  # nothing is written to an aborted transport
        return response if injected is None else _injected_error(injected)

    def _route(self, method: str, path: str, body: JsonDict, query: dict[str, str]) -> web.Response:
        if not path.startswith("/v1beta1/projects/"):
            return _error(404, f"unknown path {path}")
        name = path.removeprefix("/v1beta1/")
        if method == "POST" and name.endswith("/tuningJobs"):
            return web.json_response(self._create(name.removesuffix("/tuningJobs"), body))
        if method == "GET" and name.endswith("/tuningJobs"):
            return web.json_response(self._list(name.removesuffix("/tuningJobs"), query))
        if method == "POST" and name.endswith(":cancel"):
            return self._cancel(name.removesuffix(":cancel"))
        if method == "POST" and name.endswith(":generateContent"):
            return self._generate(name.removesuffix(":generateContent"), body)
        if method == "GET" and name in self.jobs:
            return web.json_response(self._advance(self.jobs[name]))
        return _error(404, f"{name} not found")

    def _take_injected(self, method: str, path: str) -> _Injected | None:
        for injected in self._injected:
            wanted = injected.method in ("", method) and injected.match in path
            if injected.remaining > 0 and wanted:
                injected.remaining -= 1
                return injected
        return None

    # --- tuning jobs ---------------------------------------------------------------------------
    def _create(self, parent: str, body: JsonDict) -> JsonDict:
        base_model = self._check_create(body)
        number = next(self._ids)
        now = _now()
        doc = dict(body)
        doc |= {
            "name": f"{parent}/tuningJobs/{number}",
            "state": PROGRESS[0],
            "createTime": now,
            "updateTime": now,
        }
        if "preTunedModel" in body:
            doc["preTunedModel"] = dict(body["preTunedModel"], baseModel=base_model)
        outcome = self._outcomes.pop(0) if self._outcomes else Outcome()
        self.jobs[doc["name"]] = FakeJob(doc, outcome, base_model)
        return dict(doc)

    def _check_create(self, body: JsonDict) -> str:
        """Refuse a body Vertex would refuse; return the base model the job tunes."""
        base, pre = body.get("baseModel"), body.get("preTunedModel")
        if bool(base) == bool(pre):
            raise _Refused(400, "Exactly one of base_model and pre_tuned_model must be set.")
        if base and base not in TUNABLE_MODELS:
            raise _Refused(400, f"Base model {base} is not supported for tuning.")
        base_model = str(base) if base else self._tuned_base(pre)
        specs = [k for k in SPECS if k in body]
        if len(specs) != 1:
            raise _Refused(400, "Exactly one tuning spec must be set.")
        spec = body[specs[0]]
        if specs[0] == "reinforcementTuningSpec":
            problem = spec_problem(spec)
            if problem is not None:
                raise _Refused(400, problem)
        for key in ("trainingDatasetUri", "validationDatasetUri"):
            uri = spec.get(key)
            if key == "trainingDatasetUri" and not uri:
                raise _Refused(400, "training_dataset_uri is required.")
            if uri is not None and not str(uri).startswith("gs://"):
                raise _Refused(400, f"Dataset URI {uri} must be a Cloud Storage URI (gs://).")
        size = spec.get("hyperParameters", {}).get("adapterSize")
        if size is not None and size not in ADAPTER_SIZES:
            raise _Refused(400, f"Adapter size {size} is not supported for {base_model}.")
        for key, value in (body.get("labels") or {}).items():
            if not re.match(r"^[a-z][a-z0-9_-]{0,62}$", key) or not _LABEL_VALUE.match(value):
                raise _Refused(400, f"Invalid label {key}={value!r}.")
        return base_model

    def _tuned_base(self, pre: Any) -> str:
        # The SDK sends this object in snake_case; proto3 JSON parsers accept both spellings.
        pre = pre if isinstance(pre, dict) else {}
        name = str(pre.get("tunedModelName", pre.get("tuned_model_name", "")))
        if not re.match(r"^projects/[^/]+/locations/[^/]+/models/[^/]+$", name):
            raise _Refused(400, f"pre_tuned_model.tuned_model_name {name!r} is not a model name.")
        for job in self.jobs.values():
            if job.doc.get("tunedModel", {}).get("model") == name:
                return job.base_model
        return DEFAULT_SERVED_MODEL

    def _list(self, parent: str, query: dict[str, str]) -> JsonDict:
        terms = _label_terms(query.get("filter", ""))
        size = int(query.get("pageSize") or DEFAULT_PAGE_SIZE)
        if not 0 < size <= MAX_PAGE_SIZE:
            raise _Refused(400, f"page_size must be between 1 and {MAX_PAGE_SIZE}.")
        start = _offset(query.get("pageToken", ""))
        docs = [
            job.doc
            for key, job in reversed(self.jobs.items())  # newest first, as Vertex lists them
            if key.startswith(f"{parent}/tuningJobs/")
            and all((job.doc.get("labels") or {}).get(k) == v for k, v in terms)
        ]
        page: JsonDict = {"tuningJobs": [dict(doc) for doc in docs[start : start + size]]}
        if start + size < len(docs):
            page["nextPageToken"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
        return page

    def _advance(self, job: FakeJob) -> JsonDict:
        doc = job.doc
        if doc["state"] == "JOB_STATE_CANCELLING":
            job.cancelling -= 1
            if job.cancelling < 0:
                _end(doc, "JOB_STATE_CANCELLED", error={"code": 1, "message": "CANCELED"})
            return dict(doc)
        if doc["state"] in ENDED:
            return dict(doc)
        job.step += 1
        doc["updateTime"] = _now()
        if job.step < len(PROGRESS):
            doc["state"] = PROGRESS[job.step]
            return dict(doc)
        parent = doc["name"].split("/tuningJobs/")[0]
        number = doc["name"].rsplit("/", 1)[1]
        if job.outcome.state == "SUCCEEDED":
            endpoint = f"{parent}/endpoints/{7000 + int(number)}"
            doc["tunedModel"] = {"model": f"{parent}/models/{9000 + int(number)}@1"}
            doc["tunedModel"]["endpoint"] = endpoint
            self.endpoints[endpoint] = job.base_model
            _end(doc, "JOB_STATE_SUCCEEDED")
        elif job.outcome.state == "FAILED":
            error = {"code": job.outcome.error_code, "message": job.outcome.error_message}
            _end(doc, "JOB_STATE_FAILED", error=error)
        else:
            _end(doc, f"JOB_STATE_{job.outcome.state}")
        return dict(doc)

    # --- reinforcement tuning: the fake calls the reward scorer, as Vertex does ---------------
    async def _roll_out(self, job: FakeJob) -> None:
        """On the poll that ends a reinforcement job, score sampled responses with its scorer."""
        spec = job.doc.get("reinforcementTuningSpec")
        ends_now = job.step + 1 >= len(PROGRESS) and job.doc["state"] not in ENDED
        if spec is None or job.rolled_out or not ends_now or job.outcome.state != "SUCCEEDED":
            return
        job.rolled_out = True
        uri = scorer_uri(spec)
        if not uri or self.read_dataset is None:
            return
        text = await asyncio.to_thread(self.read_dataset, spec["trainingDatasetUri"])
        examples = [json.loads(line) for line in text.splitlines() if line.strip()]
        samples = int(spec.get("hyperParameters", {}).get("samplesPerPrompt", DEFAULT_SAMPLES))
        number = int(job.doc["name"].rsplit("/", 1)[1])
        bodies = [
            reward_body(example, response, step=step, job_id=number)
            for step, example in enumerate(examples, start=1)
            for response in self._responses(example, samples)
        ]
        calls = await asyncio.gather(
            *(call_scorer(uri, body, limit=self.scorer_timeout) for body in bodies)
        )
        self.scorer_calls.extend(calls)
        failed = next((call for call in calls if call.problem), None)
        if failed is not None:
            message = f"Reward function at {uri} failed: {failed.problem}."
            job.outcome = Outcome("FAILED", 3, message)

    def _responses(self, example: JsonDict, samples: int) -> list[str]:
        made = self.rollout_responses(example) if self.rollout_responses else []
        made = made or ["Oh, wonderful.", "Sure, that will go well."]
        return [made[i % len(made)] for i in range(samples)]

    async def _validate_reward(self, body: JsonDict) -> web.Response:
        """Answer validateReinforcementTuningReward by calling the scorer once."""
        for key in ("sampleResponse", "example"):
            if not isinstance(body.get(key), dict):
                raise _Refused(400, f"{key} is required.")
        problem = spec_problem({"singleRewardConfig": body.get("singleRewardConfig")})
        if problem is not None:
            raise _Refused(400, problem)
        uri = scorer_uri(body)
        call = await call_scorer(
            uri,
            {"example": body["example"], "response": body["sampleResponse"]},
            limit=self.scorer_timeout,
        )
        self.scorer_calls.append(call)
        if call.problem:
            return web.json_response({"error": f"Reward function at {uri} failed: {call.problem}"})
        name = body["singleRewardConfig"].get("rewardName", "reward")
        return web.json_response(
            {"overallReward": call.reward, "rewardInfoDetails": {name: {"reward": call.reward}}}
        )

    def _cancel(self, name: str) -> web.Response:
        job = self.jobs.get(name)
        if job is None:
            return _error(404, f"{name} not found")
        if job.doc["state"] in ENDED | {"JOB_STATE_CANCELLING"}:
            return _error(400, f"Job {name} is already in state {job.doc['state']}.")
        job.doc["state"] = "JOB_STATE_CANCELLING"
        job.doc["updateTime"] = _now()
        job.cancelling = self.cancelling_polls
        return web.json_response({})

    # --- serving -------------------------------------------------------------------------------
    def _generate(self, endpoint: str, body: JsonDict) -> web.Response:
        responder = self._responders.get(endpoint)
        if responder is None:
            return _error(404, f"Endpoint {endpoint} not found.")
        model = self.endpoints.get(endpoint, DEFAULT_SERVED_MODEL)
        config = body.get("generationConfig", {})
        wants_logprobs = bool(config.get("responseLogprobs")) or "logprobs" in config
        if wants_logprobs and gemini_generation(model) >= 3:
            return _error(400, LOGPROBS_REFUSED)
        count = int(config.get("candidateCount", 1))
        if not 1 <= count <= MAX_CANDIDATES:
            return _error(
                400,
                f"Unable to submit request because it has a candidateCount value of {count} but "
                f"the supported range is from 1 (inclusive) to {MAX_CANDIDATES + 1} (exclusive).",
            )
        several = self.multiple_candidates
        if several is None:
            several = gemini_generation(model) < 3
        if count > 1 and not several:
            return _error(400, CANDIDATES_REFUSED)
        produced = responder(body)
        candidates = []
        for i in range(count):
            candidate = dict(produced[i % len(produced)], index=i, finishReason="STOP")
            if not config.get("responseLogprobs"):
                candidate.pop("logprobsResult", None)  # sent only when asked for
            candidates.append(candidate)
        return web.json_response(
            {
                "candidates": candidates,
                "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 2 * count},
                "modelVersion": endpoint,
            }
        )


def text_candidate(
    text: str, *, top: list[list[tuple[str, float]]] | None = None, avg_logprob: float | None = None
) -> JsonDict:
    """Build a wire-format candidate; ``top`` is the top tokens and logprobs at each step."""
    candidate: JsonDict = {"content": {"role": "model", "parts": [{"text": text}]}}
    if avg_logprob is not None:
        candidate["avgLogprobs"] = avg_logprob
    if top is not None:
        candidate["logprobsResult"] = {
            "topCandidates": [
                {"candidates": [{"token": t, "logProbability": lp} for t, lp in step]}
                for step in top
            ],
            "chosenCandidates": [
                {"token": step[0][0], "logProbability": step[0][1]} for step in top
            ],
        }
    return candidate


def _label_terms(text: str) -> list[tuple[str, str]]:
    """Parse ``labels.k="v" AND labels.k2=v2``; refuse any other filter as Vertex would."""
    if not text.strip():
        return []
    terms = []
    for term in re.split(r"\s+AND\s+", text.strip()):
        found = _LABEL_TERM.match(term.strip())
        if found is None:
            raise _Refused(400, f"Unsupported filter: {text!r}.")
        terms.append((found.group(1), found.group(2) or found.group(3) or ""))
    return terms


def _offset(token: str) -> int:
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode())
    except ValueError:
        raise _Refused(400, "Invalid page token.") from None


def _end(doc: JsonDict, state: str, *, error: JsonDict | None = None) -> None:
    doc["state"] = state
    doc["updateTime"] = doc["endTime"] = _now()
    if error is not None:
        doc["error"] = error


def _injected_error(injected: _Injected) -> web.Response:
    headers = {"Retry-After": str(injected.retry_after)} if injected.retry_after else {}
    return _error(injected.status, f"injected {injected.status}", headers)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    # The Google API error shape: https://cloud.google.com/apis/design/errors#http_mapping
    payload = {"error": {"code": status, "message": message, "status": STATUS_NAMES.get(status)}}
    return web.json_response(payload, status=status, headers=headers)


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


async def start_fake_vertex(fake: FakeVertex) -> web.AppRunner:
    """Serve ``fake`` on a free 127.0.0.1 port, set ``fake.url`` and return the runner."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    fake.url = f"http://127.0.0.1:{port}"
    return runner
