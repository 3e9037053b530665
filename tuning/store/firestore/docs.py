"""Document ids, datetime handling and error translation for the Firestore store."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

from google.api_core import exceptions as api_errors

from tuning.errors import StoreError
from tuning.store.codec import key_digest, to_utc

P = ParamSpec("P")
T = TypeVar("T")

# Firestore document ids may not contain "/", be "." or "..", match __.*__, or exceed 1,500 bytes.
MAX_ID_BYTES = 1500


def doc_id(raw: str) -> str:
    """Return ``raw`` when it is a valid document id, else a stable ``sha256-...`` digest of it."""
    try:
        size = len(raw.encode("utf-8"))
    except UnicodeEncodeError:
        size = MAX_ID_BYTES + 1
    reserved = raw in ("", ".", "..") or (raw.startswith("__") and raw.endswith("__"))
    if reserved or "/" in raw or size > MAX_ID_BYTES or raw.startswith("sha256-"):
        return "sha256-" + key_digest(raw)
    return raw


def feedback_id(interaction_id: str, user: str, reaction: str) -> str:
    """Return the document id of the feedback for (interaction, user, reaction)."""
    return key_digest(interaction_id, user, reaction)


def claim_id(key: str) -> str:
    """Return the document id of a claim."""
    return key_digest(key)


def encode_time(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime, which Firestore stores as a Timestamp."""
    return to_utc(value)


def decode_time(value: Any) -> datetime:
    """Return a stored Timestamp as a plain aware UTC datetime (not the SDK's subclass)."""
    if not isinstance(value, datetime):
        raise TypeError(f"expected a timestamp, got {type(value).__name__}")
    value = to_utc(value)
    return datetime(
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
        tzinfo=UTC,
    )


@contextmanager
def api_errors_as_store_errors() -> Iterator[None]:
    """Turn failed Firestore calls into StoreError (with the cause chained)."""
    try:
        yield
    except (api_errors.GoogleAPIError, api_errors.RetryError) as exc:
        raise StoreError(f"firestore store: {exc}") from exc


def translated(
    method: Callable[P, Coroutine[Any, Any, T]],
) -> Callable[P, Coroutine[Any, Any, T]]:
    """Decorate a coroutine method so Firestore failures surface as StoreError."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        with api_errors_as_store_errors():
            return await method(*args, **kwargs)

    return wrapper
