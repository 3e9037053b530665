"""Convert records to plain dicts and back, for both store backends.

Each backend stores datetimes its own way (ISO text in SQLite, Timestamps in Firestore), so the
converters take the datetime encoding as a function. Decoding a malformed record raises
:class:`StoreError`: a broken row is never silently "not found".
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from tuning.errors import StoreError
from tuning.records import (
    AuditEntry,
    Candidate,
    ChannelSettings,
    Correction,
    Feedback,
    Interaction,
    JobRecord,
    ModelVersion,
    StateChange,
    frozen_mapping,
)

Encode = Callable[[datetime], Any]
Decode = Callable[[Any], datetime]


def to_utc(value: datetime) -> datetime:
    """Return ``value`` in UTC, reading a naive datetime as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def encode_text(value: datetime) -> str:
    """Return a fixed-width ISO-8601 UTC string, so stored timestamps sort as text."""
    return to_utc(value).isoformat(timespec="microseconds")


def decode_text(value: Any) -> datetime:
    """Parse a string written by :func:`encode_text`."""
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO timestamp string, got {type(value).__name__}")
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is UTC else to_utc(parsed)


_SLACK_TS = re.compile(r"([0-9]{1,15})(?:\.([0-9]{1,9}))?")


def event_order(event_ts: str) -> str:
    """Return a text that sorts as Slack's ``event_ts`` does, or "" if it is not a Slack ts.

    >>> event_order("1700000000.0001") == event_order("1700000000.000100")
    True
    >>> event_order("999.5") < event_order("1000.000001")
    True
    >>> event_order("abc")
    ''
    """
    match = _SLACK_TS.fullmatch(event_ts)
    if match is None:
        return ""
    seconds, fraction = match.group(1), match.group(2) or ""
    return f"{int(seconds):015d}.{fraction.ljust(9, '0')}"


def key_digest(*parts: str) -> str:
    """Return a stable sha256 hex digest of ``parts``, NUL-separated so they cannot run together."""
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


class decoding:  # lower case: it reads like a function, ``with decoding("job", data, "id"):``
    """Turn any error raised while decoding a stored record into a StoreError naming it.

    A class rather than @contextmanager: it runs once per record on export paths, and the
    description is only formatted when something is actually wrong.
    """

    __slots__ = ("data", "keys", "kind")

    def __init__(self, kind: str, data: Mapping[str, Any] | None = None, *keys: str) -> None:
        self.kind = kind
        self.data = data
        self.keys = keys

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: Any, tb: Any) -> None:
        if exc_type is None or issubclass(exc_type, StoreError):
            return
        if issubclass(exc_type, KeyError | TypeError | ValueError | AttributeError):
            raise StoreError(f"stored {self.describe()} is malformed: {exc!r}") from exc

    def describe(self) -> str:
        """Return e.g. ``interaction 'i1'``: the kind of record and its identifying fields."""
        if self.data is None or not self.keys:
            return self.kind
        try:
            names = " ".join(repr(self.data.get(key)) for key in self.keys)
        except AttributeError:  # not even a mapping
            return self.kind
        return f"{self.kind} {names}"


def interaction_to_dict(item: Interaction, enc: Encode) -> dict[str, Any]:
    """Return the interaction as a dict; candidates become a list of {text, score}."""
    return {
        "id": item.id,
        "team": item.team,
        "channel": item.channel,
        "ts": item.ts,
        "kind": item.kind,
        "input_text": item.input_text,
        "output": item.output,
        "model_version": item.model_version,
        "user": item.user,
        "thread_ts": item.thread_ts,
        "reply_ts": item.reply_ts,
        "probability": item.probability,
        "candidates": [{"text": c.text, "score": c.score} for c in item.candidates],
        "parent_id": item.parent_id,
        "created_at": enc(item.created_at),
        "author": item.author,
    }


def interaction_from_dict(data: Mapping[str, Any], dec: Decode) -> Interaction:
    """Rebuild an interaction from :func:`interaction_to_dict` output."""
    with decoding("interaction", data, "id"):
        probability = data.get("probability")
        return Interaction(
            id=str(data["id"]),
            team=data["team"],
            channel=data["channel"],
            ts=data["ts"],
            kind=data["kind"],
            input_text=data["input_text"],
            output=data["output"],
            model_version=data["model_version"],
            user=data.get("user") or "",
            thread_ts=data.get("thread_ts"),
            reply_ts=data.get("reply_ts"),
            probability=None if probability is None else float(probability),
            candidates=tuple(
                Candidate(text=str(c["text"]), score=float(c["score"])) for c in data["candidates"]
            ),
            parent_id=data.get("parent_id"),
            created_at=dec(data["created_at"]),
            author=data.get("author") or "",  # absent before authors were stored: the actor
        )


def feedback_to_dict(item: Feedback, enc: Encode) -> dict[str, Any]:
    """Return the feedback as a dict."""
    return {
        "interaction_id": item.interaction_id,
        "user": item.user,
        "reaction": item.reaction,
        "rating": item.rating,
        "created_at": enc(item.created_at),
        "updated_at": enc(item.updated_at),
        "retracted": item.retracted,
        "retracted_at": None if item.retracted_at is None else enc(item.retracted_at),
    }


def feedback_from_dict(data: Mapping[str, Any], dec: Decode) -> Feedback:
    """Rebuild feedback from :func:`feedback_to_dict` output."""
    with decoding("feedback on", data, "interaction_id"):
        retracted_at = data.get("retracted_at")
        return Feedback(
            interaction_id=data["interaction_id"],
            user=data["user"],
            reaction=data["reaction"],
            rating=int(data["rating"]),
            created_at=dec(data["created_at"]),
            updated_at=dec(data["updated_at"]),
            retracted=bool(data["retracted"]),
            retracted_at=None if retracted_at is None else dec(retracted_at),
        )


def model_to_dict(item: ModelVersion, enc: Encode) -> dict[str, Any]:
    """Return the model version as a dict."""
    return {
        "task": item.task,
        "version": item.version,
        "backend": item.backend,
        "artifact": item.artifact,
        "metrics": dict(item.metrics),
        "state": item.state,
        "job_id": item.job_id,
        "created_at": enc(item.created_at),
        "promoted_at": None if item.promoted_at is None else enc(item.promoted_at),
    }


def model_from_dict(data: Mapping[str, Any], dec: Decode) -> ModelVersion:
    """Rebuild a model version from :func:`model_to_dict` output."""
    with decoding("model", data, "task", "version"):
        promoted_at = data.get("promoted_at")
        return ModelVersion(
            task=data["task"],
            version=data["version"],
            backend=data["backend"],
            artifact=data["artifact"],
            metrics=frozen_mapping({str(k): float(v) for k, v in dict(data["metrics"]).items()}),
            state=data["state"],
            job_id=data.get("job_id"),
            created_at=dec(data["created_at"]),
            promoted_at=None if promoted_at is None else dec(promoted_at),
        )


def job_to_dict(item: JobRecord, enc: Encode) -> dict[str, Any]:
    """Return the job as a dict; its history becomes a list of {state, at}."""
    return {
        "id": item.id,
        "task": item.task,
        "method": item.method,
        "backend": item.backend,
        "state": item.state,
        "config": dict(item.config),
        "dataset_stats": dict(item.dataset_stats),
        "history": [{"state": h.state, "at": enc(h.at)} for h in item.history],
        "metrics": dict(item.metrics),
        "error": item.error,
        "remote_name": item.remote_name,
        "candidate_version": item.candidate_version,
        "outcome": item.outcome,
        "notify": dict(item.notify),
        "created_at": enc(item.created_at),
        "updated_at": enc(item.updated_at),
    }


def job_from_dict(data: Mapping[str, Any], dec: Decode) -> JobRecord:
    """Rebuild a job from :func:`job_to_dict` output."""
    with decoding("job", data, "id"):
        return JobRecord(
            id=data["id"],
            task=data["task"],
            method=data["method"],
            backend=data["backend"],
            state=data["state"],
            config=frozen_mapping(data["config"]),
            dataset_stats=frozen_mapping(data["dataset_stats"]),
            history=tuple(StateChange(state=h["state"], at=dec(h["at"])) for h in data["history"]),
            metrics=frozen_mapping(data["metrics"]),
            error=data.get("error"),
            remote_name=data.get("remote_name"),
            candidate_version=data.get("candidate_version"),
            outcome=data.get("outcome"),
            notify=frozen_mapping(data["notify"]),
            created_at=dec(data["created_at"]),
            updated_at=dec(data["updated_at"]),
        )


def channel_from_dict(data: Mapping[str, Any]) -> ChannelSettings:
    """Rebuild channel settings from a stored dict."""
    with decoding("channel settings", data, "channel"):
        return ChannelSettings(
            channel=data["channel"],
            threshold=float(data["threshold"]),
            mode=data["mode"],
            reaction=data["reaction"],
            explore=float(data.get("explore") or 0.0),  # absent before exploration existed
        )


def correction_to_dict(item: Correction, enc: Encode) -> dict[str, Any]:
    """Return the correction as a dict."""
    return {
        "interaction_id": item.interaction_id,
        "user": item.user,
        "text": item.text,
        "created_at": enc(item.created_at),
    }


def correction_from_dict(data: Mapping[str, Any], dec: Decode) -> Correction:
    """Rebuild a correction from :func:`correction_to_dict` output."""
    with decoding("correction of", data, "interaction_id"):
        return Correction(
            interaction_id=data["interaction_id"],
            user=data["user"],
            text=data["text"],
            created_at=dec(data["created_at"]),
        )


def audit_from_dict(data: Mapping[str, Any], dec: Decode) -> AuditEntry:
    """Rebuild an audit entry from a stored dict."""
    with decoding("audit entry"):
        return AuditEntry(
            actor=data["actor"],
            action=data["action"],
            result=data["result"],
            detail=frozen_mapping(data["detail"]),
            at=dec(data["at"]),
        )
