"""Frozen value types that cross the store and model interfaces.

Everything the store returns is one of these (or a tuple of them): copies, never internal state.
Timestamps are timezone-aware UTC datetimes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Literal

Kind = Literal["classify", "generate"]
Label = Literal["sarcastic", "not_sarcastic"]
Task = Literal["classifier", "generator"]
Method = Literal["sft", "preference", "reinforcement"]
ModelState = Literal["candidate", "active", "retired"]
JobState = Literal[
    "QUEUED", "PENDING", "RUNNING", "EVALUATING", "SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED"
]
ChannelMode = Literal["react", "reply", "off"]

KINDS: tuple[Kind, ...] = ("classify", "generate")
TASKS: tuple[Task, ...] = ("classifier", "generator")
METHODS: tuple[Method, ...] = ("sft", "preference", "reinforcement")
# Methods that tune the generator only (a classifier has no replies to prefer or reward).
GENERATOR_ONLY: frozenset[str] = frozenset({"preference", "reinforcement"})
MAX_EXPLORE = 0.2  # the largest share of near misses a channel may mark "sarcastic?"
EXPLORE_WINDOW = 0.2  # a near miss scores at most this far below the channel's threshold
# The model_version of a ``classify`` interaction a person labelled with the sarcastic reaction,
# rather than a flag the classifier raised.
HUMAN_LABEL = "human-label"
ENDED_JOB_STATES: frozenset[str] = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED"})
# A source of the current time: returns a timezone-aware UTC datetime (utcnow, or a test's clock).
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def frozen_mapping(value: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """Return a read-only copy of ``value`` for use inside a frozen record."""
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True)
class Candidate:
    """One generated reply and the score it was ranked by."""

    text: str
    score: float


@dataclass(frozen=True)
class Prediction:
    """A classifier's answer for one text."""

    text: str
    label: Label
    probability: float


@dataclass(frozen=True)
class Interaction:
    """One bot reply (``generate``) or flag (``classify``).

    ``ts`` is the message reactions land on: the bot's reply for ``generate``, the flagged
    message for ``classify``. ``reply_ts`` is the bot's own thread reply for a flag in ``reply``
    mode. ``author`` wrote ``input_text`` (already redacted); ``user`` is the actor whose action
    stored it (who mentioned the bot, pressed *Try again*, or reacted to label a message), and
    an empty ``author`` means the actor wrote it. Forget-me deletes by author, and clears the
    actor of what it does not delete. ``parent_id`` links a "try again" reply to the interaction
    it retried.
    """

    id: str
    team: str
    channel: str
    ts: str
    kind: Kind
    input_text: str
    output: str
    model_version: str
    user: str = ""
    thread_ts: str | None = None
    reply_ts: str | None = None
    probability: float | None = None
    candidates: tuple[Candidate, ...] = ()
    parent_id: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    author: str = ""

    def __post_init__(self) -> None:
        if not self.author:  # the actor wrote it: every stored text names its author
            object.__setattr__(self, "author", self.user)


@dataclass(frozen=True)
class FeedbackKey:
    """Feedback is unique per (interaction, user, reaction)."""

    interaction_id: str
    user: str
    reaction: str


@dataclass(frozen=True)
class Feedback:
    """One person's reaction to an interaction, and the rating it maps to (+1 or -1)."""

    interaction_id: str
    user: str
    reaction: str
    rating: int
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    retracted: bool = False
    retracted_at: datetime | None = None

    @property
    def key(self) -> FeedbackKey:
        """Return the idempotency key of this feedback."""
        return FeedbackKey(self.interaction_id, self.user, self.reaction)


@dataclass(frozen=True)
class Correction:
    """A better reply a person wrote for one of the bot's replies (offered after a 👎).

    ``interaction_id`` is the bot reply it improves on, ``user`` wrote ``text`` (redacted before
    it is stored). One correction per (interaction, user): a later one replaces it. It trains
    the generator twice: as an SFT target, and as a pair preferred over the bot's reply.
    """

    interaction_id: str
    user: str
    text: str
    created_at: datetime = field(default_factory=utcnow)


def correction_id(*, interaction_id: str, user: str) -> str:
    """Return the record id a manifest lists a correction under (it names no user).

    >>> correction_id(interaction_id="i1", user="U1")
    'correction:381d7af1be84169f'
    """
    digest = hashlib.blake2b(f"{interaction_id}\x00{user}".encode(), digest_size=8).hexdigest()
    return f"correction:{digest}"


ManifestKind = Literal["dataset", "model"]
# Why a manifest's files or model hold data that must go: a user asked to be forgotten, or its
# oldest record is past the retention window. "" means clean.
Affected = Literal["", "forgotten", "expired"]


@dataclass(frozen=True)
class Manifest:
    """Which stored records a dataset or a model version was built from: ids, never text.

    ``id`` is ``dataset:<name>`` or ``model:<task>:<version>``. ``record_ids`` are interaction
    ids and :func:`correction_id` ids. ``locations`` are the local paths and ``gs://`` URIs that
    hold copies of the records (dataset files, exports, uploads, model artifacts): what
    forget-me and retention delete. ``oldest`` is when its oldest record was created.
    ``affected`` says why it must be deleted or rebuilt, and ``pending`` lists locations that
    could not be deleted yet (retried by ``tick``), each as ``location\treason``.
    """

    id: str
    kind: ManifestKind
    task: Task
    record_ids: frozenset[str] = frozenset()
    locations: tuple[str, ...] = ()
    oldest: datetime | None = None
    affected: Affected = ""
    pending: tuple[str, ...] = ()
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)


def dataset_manifest_id(name: str) -> str:
    """Return the id of a dataset's manifest (``name``: a job id, or ``export-<directory>``).

    >>> dataset_manifest_id("job-1")
    'dataset:job-1'
    """
    return f"dataset:{name}"


def model_manifest_id(*, task: Task, version: str) -> str:
    """Return the id of a model version's manifest.

    >>> model_manifest_id(task="generator", version="gen-1")
    'model:generator:gen-1'
    """
    return f"model:{task}:{version}"


def model_key(manifest: Manifest) -> tuple[Task, str] | None:
    """Return the (task, version) a ``model:<task>:<version>`` manifest describes, or None.

    >>> model_key(Manifest(id="model:generator:gen-1", kind="model", task="generator"))
    ('generator', 'gen-1')
    """
    kind, _, rest = manifest.id.partition(":")
    task, _, version = rest.partition(":")
    if kind != "model" or task not in TASKS or not version:
        return None
    return manifest.task, version


# The outcome of a job whose training data was forgotten or expired while it trained: its
# candidate is registered, flagged by its manifest, and never promoted.
WITHHELD = "withheld"


@dataclass(frozen=True)
class Erased:
    """What a forget-me or a retention purge deleted from the store: counts and record ids.

    ``record_ids`` (interaction and correction ids, no text) find the manifests that held them.
    """

    interactions: int = 0
    feedback: int = 0
    corrections: int = 0
    record_ids: frozenset[str] = frozenset()

    @property
    def total(self) -> int:
        """Return how many records were deleted in all."""
        return self.interactions + self.feedback + self.corrections


@dataclass(frozen=True)
class ModelVersion:
    """A registered model: a local artifact path or a Vertex endpoint, with its metrics."""

    task: Task
    version: str
    backend: str
    artifact: str
    metrics: Mapping[str, float] = field(default_factory=frozen_mapping)
    state: ModelState = "candidate"
    job_id: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    promoted_at: datetime | None = None


@dataclass(frozen=True)
class StateChange:
    """A job entered ``state`` at ``at``."""

    state: JobState
    at: datetime


@dataclass(frozen=True)
class JobRecord:
    """A tuning job, local or Vertex, with everything needed to report on it later.

    ``notify`` says who to tell when it ends (channel, thread_ts, user, response_url), so any
    process that sees the end can report it. ``outcome`` is ``promoted``, ``kept``, ``failed``,
    or :data:`WITHHELD`.
    """

    id: str
    task: Task
    method: Method
    backend: str
    state: JobState = "QUEUED"
    config: Mapping[str, Any] = field(default_factory=frozen_mapping)
    dataset_stats: Mapping[str, Any] = field(default_factory=frozen_mapping)
    history: tuple[StateChange, ...] = ()
    metrics: Mapping[str, Any] = field(default_factory=frozen_mapping)
    error: str | None = None
    remote_name: str | None = None
    candidate_version: str | None = None
    outcome: str | None = None
    notify: Mapping[str, Any] = field(default_factory=frozen_mapping)
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)

    @property
    def ended(self) -> bool:
        """Return whether the job has reached a final state."""
        return self.state in ENDED_JOB_STATES


@dataclass(frozen=True)
class ChannelSettings:
    """Per-channel flagging settings."""

    channel: str
    threshold: float = 0.8
    mode: ChannelMode = "react"
    reaction: str = "upside_down_face"
    # The share (0..MAX_EXPLORE) of messages just under ``threshold`` that get a "sarcastic?"
    # marker, so that ✅/❌ also reach the borderline cases.
    explore: float = 0.0


@dataclass(frozen=True)
class AuditEntry:
    """Who did what, when, and how it ended."""

    actor: str
    action: str
    result: str
    detail: Mapping[str, Any] = field(default_factory=frozen_mapping)
    at: datetime = field(default_factory=utcnow)
