"""A fake Vertex AI REST server that the real google-genai client talks to.

It speaks the v1beta1 wire format the SDK uses (https://cloud.google.com/vertex-ai/docs/reference/rest):

- ``POST /v1beta1/projects/P/locations/L/tuningJobs`` creates a job (state QUEUED);
- ``GET /v1beta1/{name}`` advances it one step per poll: QUEUED, PENDING, RUNNING, then the
  scripted end (SUCCEEDED with ``tunedModel {model, endpoint}``, FAILED with ``error``, EXPIRED);
- ``GET /v1beta1/projects/P/locations/L/tuningJobs`` lists jobs;
- ``POST /v1beta1/{name}:cancel`` cancels a running job;
- ``POST /v1beta1/{endpoint}:generateContent`` answers with scripted candidates;
- ``POST /token`` is an OAuth2 token endpoint for Application Default Credentials.

Every request is recorded with its JSON body. Errors (429 with ``Retry-After``, 500, 403) can be
injected for the next N requests. Requests without ``Authorization: Bearer <token>`` get a 401.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

JsonDict = dict[str, Any]
Responder = Callable[[JsonDict], list[JsonDict]]

STATUS_NAMES = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}
STATUS_NAMES |= {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
PROGRESS = ("JOB_STATE_QUEUED", "JOB_STATE_PENDING", "JOB_STATE_RUNNING")
ENDED = {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"}


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    body: JsonDict
    headers: dict[str, str]


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


@dataclass
class FakeJob:
    """A tuning job held by the fake; ``doc`` is what GET returns."""

    doc: JsonDict
    outcome: Outcome
    step: int = 0


@dataclass
class FakeVertex:
    """The fake's state and control API; ``url`` is set once it is serving."""

    token: str = "test"
    requests: list[Recorded] = field(default_factory=list)
    jobs: dict[str, FakeJob] = field(default_factory=dict)
    url: str = ""
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

    def respond(self, endpoint: str, responder: Responder) -> None:
        """Answer generateContent on ``endpoint`` with ``responder(request_body)`` candidates."""
        self._responders[endpoint] = responder

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
        self.requests.append(Recorded(request.method, path, body, dict(request.headers)))
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
        response = self._route(request.method, path, body)
        return response if injected is None else _injected_error(injected)

    def _route(self, method: str, path: str, body: JsonDict) -> web.Response:
        if not path.startswith("/v1beta1/projects/"):
            return _error(404, f"unknown path {path}")
        name = path.removeprefix("/v1beta1/")
        if method == "POST" and name.endswith("/tuningJobs"):
            return web.json_response(self._create(name.removesuffix("/tuningJobs"), body))
        if method == "GET" and name.endswith("/tuningJobs"):
            docs = [job.doc for key, job in self.jobs.items() if key.startswith(name)]
            return web.json_response({"tuningJobs": docs})
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

    def _create(self, parent: str, body: JsonDict) -> JsonDict:
        number = next(self._ids)
        now = _now()
        doc = {k: v for k, v in body.items() if k != "preTunedModel"}
        if "preTunedModel" in body:
            doc["preTunedModel"] = body["preTunedModel"]
        doc |= {
            "name": f"{parent}/tuningJobs/{number}",
            "state": PROGRESS[0],
            "createTime": now,
            "updateTime": now,
        }
        outcome = self._outcomes.pop(0) if self._outcomes else Outcome()
        self.jobs[doc["name"]] = FakeJob(doc, outcome)
        return dict(doc)

    def _advance(self, job: FakeJob) -> JsonDict:
        doc = job.doc
        if doc["state"] in ENDED:
            return dict(doc)
        job.step += 1
        doc["updateTime"] = _now()
        if job.step < len(PROGRESS):
            doc["state"] = PROGRESS[job.step]
            return dict(doc)
        doc["state"] = f"JOB_STATE_{job.outcome.state}"
        doc["endTime"] = doc["updateTime"]
        parent = doc["name"].split("/tuningJobs/")[0]
        number = doc["name"].rsplit("/", 1)[1]
        if job.outcome.state == "SUCCEEDED":
            doc["tunedModel"] = {
                "model": f"{parent}/models/{9000 + int(number)}@1",
                "endpoint": f"{parent}/endpoints/{7000 + int(number)}",
            }
        elif job.outcome.state == "FAILED":
            doc["error"] = {"code": job.outcome.error_code, "message": job.outcome.error_message}
        return dict(doc)

    def _cancel(self, name: str) -> web.Response:
        job = self.jobs.get(name)
        if job is None:
            return _error(404, f"{name} not found")
        if job.doc["state"] in ENDED:
            return _error(400, f"Job {name} is already in state {job.doc['state']}.")
        job.doc["state"] = "JOB_STATE_CANCELLED"
        job.doc["error"] = {"code": 1, "message": "CANCELED"}
        return web.json_response({})

    def _generate(self, endpoint: str, body: JsonDict) -> web.Response:
        responder = self._responders.get(endpoint)
        if responder is None:
            return _error(404, f"Endpoint {endpoint} not found.")
        count = int(body.get("generationConfig", {}).get("candidateCount", 1))
        produced = responder(body)
        candidates = [
            dict(produced[i % len(produced)], index=i, finishReason="STOP") for i in range(count)
        ]
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
