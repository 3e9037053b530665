"""Build the google-genai client for Vertex AI, and turn its errors into our BackendError.

One place decides how we talk to Vertex AI: the project, the region, bounded retries on 429 and
5xx (``HttpRetryOptions``; exponential backoff with jitter), and a per-attempt timeout, so a rate
limit storm ends in a clear error instead of a hang.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

import aiohttp
from google import genai
from google.auth import exceptions as auth_exceptions
from google.genai import errors, types

from tuning.errors import BackendError

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

    from tuning.config import VertexSettings

# What Vertex AI documents as retryable: https://cloud.google.com/vertex-ai/docs/general/error-codes
RETRY_STATUS_CODES = [408, 429, 500, 502, 503, 504]


def retry_options(
    attempts: int, *, initial_delay: float = 1.0, status_codes: Sequence[int] = RETRY_STATUS_CODES
) -> types.HttpRetryOptions:
    """Return retry options: ``attempts`` tries in all, backing off from ``initial_delay``."""
    return types.HttpRetryOptions(
        attempts=attempts,
        initial_delay=initial_delay,
        max_delay=30.0 * initial_delay,
        jitter=initial_delay,
        http_status_codes=list(status_codes),
    )


def build_client(
    vertex: VertexSettings,
    *,
    location: str | None = None,
    base_url: str | None = None,
    credentials: Credentials | None = None,
    retry: types.HttpRetryOptions | None = None,
) -> genai.Client:
    """Build a Vertex AI client for ``location`` (default: the tuning region).

    ``base_url`` and ``credentials`` exist for tests and proxies; in production the client finds
    Application Default Credentials itself.
    """
    options = types.HttpOptions(
        base_url=base_url,
        timeout=int(vertex.timeout_seconds * 1000),
        retry_options=retry or retry_options(vertex.retry_attempts),
    )
    return genai.Client(
        vertexai=True,
        project=vertex.project,
        location=location or vertex.region,
        credentials=credentials,
        http_options=options,
    )


def backend_error(exc: BaseException, *, action: str, attempts: int) -> BackendError:
    """Describe a failed Vertex AI call in one line a user can act on."""
    if isinstance(exc, errors.APIError):
        status = f"{exc.code} {exc.status or ''}".strip()
        if exc.code == 429:
            return BackendError(
                f"Vertex AI refused to {action}: rate limited ({status}) on all {attempts} "
                "attempts; try again later or raise the project's quota"
            )
        if exc.code in (401, 403):
            return BackendError(
                f"Vertex AI refused to {action} ({status}): check the credentials and that the "
                "service account has roles/aiplatform.user"
            )
        if exc.code is not None and exc.code >= 500:
            return BackendError(
                f"Vertex AI failed to {action} ({status}) on all {attempts} attempts; "
                "try again later"
            )
        return BackendError(f"Vertex AI refused to {action} ({status}): {exc.message}")
    if isinstance(exc, auth_exceptions.GoogleAuthError):
        return BackendError(
            f"no usable Google Cloud credentials to {action}: run `gcloud auth "
            "application-default login` or set GOOGLE_APPLICATION_CREDENTIALS"
        )
    if isinstance(exc, aiohttp.ClientError | asyncio.TimeoutError | TimeoutError):
        return BackendError(f"could not reach Vertex AI to {action}: {type(exc).__name__}")
    return BackendError(f"Vertex AI call to {action} failed: {exc}")


def ambiguous(exc: BaseException) -> bool:
    """Return whether a failed request may still have taken effect (5xx, timeout, lost link)."""
    if isinstance(exc, errors.APIError):
        return exc.code is not None and (exc.code >= 500 or exc.code == 408)
    return isinstance(exc, aiohttp.ClientError | asyncio.TimeoutError | TimeoutError)


def refused(exc: BaseException | None, phrase: str) -> bool:
    """Return whether Vertex AI answered 400 with ``phrase`` in its message (case ignored)."""
    if not isinstance(exc, errors.APIError) or exc.code != 400:
        return False
    return phrase.lower() in (exc.message or "").lower()


def rate_limited(exc: BaseException) -> bool:
    """Return whether Vertex AI refused a request for quota (429: nothing was done)."""
    return isinstance(exc, errors.APIError) and exc.code == 429


# The exceptions a Vertex AI call can end in after the SDK's own retries.
CALL_ERRORS = (
    errors.APIError,
    auth_exceptions.GoogleAuthError,
    aiohttp.ClientError,
    asyncio.TimeoutError,
    TimeoutError,
)
