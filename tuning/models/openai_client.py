"""The ``AsyncOpenAI`` client for an OpenAI-compatible server, and its errors as one clear line.

The SDK retries 429 and 5xx itself, honouring ``Retry-After`` (``OPENAI_RETRY_ATTEMPTS`` in all),
and times each attempt out after ``OPENAI_TIMEOUT_SECONDS``. Whatever still fails becomes a
:class:`~tuning.errors.ModelError` whose message names the variable to look at: an unreachable
server names OPENAI_BASE_URL, an unknown model OPENAI_MODEL, a refused key OPENAI_API_KEY.
"""

from __future__ import annotations

import logging

import httpx2
import openai

from tuning.config import OpenAISettings
from tuning.errors import ModelError

log = logging.getLogger(__name__)
# Local servers need no key, but the SDK refuses to start without one.
NO_KEY = "not-needed"
# No idle connections kept: evaluation loads models and drops them without closing them, which
# would leave sockets open. Costs a TCP (and for https a TLS) handshake per call; on a local
# server that is well under a millisecond.
LIMITS = httpx2.Limits(max_connections=64, max_keepalive_connections=0)


def build_client(settings: OpenAISettings) -> openai.AsyncOpenAI:
    """Return a client for the configured server (no request is made)."""
    return openai.AsyncOpenAI(
        base_url=settings.base_url,
        api_key=settings.api_key or NO_KEY,
        timeout=settings.timeout_seconds,
        max_retries=settings.retry_attempts - 1,
        http_client=openai.DefaultAsyncHttpxClient(limits=LIMITS),
    )


def model_error(exc: openai.OpenAIError, settings: OpenAISettings, *, model: str) -> ModelError:
    """Return the one line a person sees for a failed call (the cause goes to the log)."""
    url = settings.base_url
    if isinstance(exc, openai.APITimeoutError):
        return ModelError(
            f"OPENAI_BASE_URL: {url} did not answer within {settings.timeout_seconds:g} s "
            "(OPENAI_TIMEOUT_SECONDS)"
        )
    if isinstance(exc, openai.APIConnectionError):
        return ModelError(f"OPENAI_BASE_URL: cannot reach {url}; is the model server running?")
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return ModelError(f"OPENAI_API_KEY: {url} refused the key ({exc.status_code})")
    if isinstance(exc, openai.NotFoundError):
        return ModelError(f"OPENAI_MODEL: {url} does not serve {model!r} (or the URL lacks /v1)")
    if isinstance(exc, openai.RateLimitError):
        return ModelError(f"{url} is rate limiting {model!r}; try again shortly")
    if isinstance(exc, openai.APIStatusError):
        return ModelError(f"{url} answered {exc.status_code} for {model!r}: {_message(exc)}")
    return ModelError(f"{url} sent an answer the openai SDK cannot read ({type(exc).__name__})")


def _message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        text = body.get("message")
        if isinstance(text, str):
            return text[:200]
    return exc.message[:200]


async def check_server(
    client: openai.AsyncOpenAI, settings: OpenAISettings, models: list[str]
) -> None:
    """Raise ModelError (one line naming the variable) unless the server serves ``models``."""
    try:
        page = await client.models.list()
    except openai.OpenAIError as exc:
        raise model_error(exc, settings, model=models[0]) from exc
    served = {getattr(item, "id", "") for item in getattr(page, "data", None) or []}
    for name, model in zip(("OPENAI_MODEL", "OPENAI_CLASSIFIER_MODEL"), models, strict=False):
        if model not in served:
            listed = ", ".join(sorted(served)[:8]) or "none"
            raise ModelError(
                f"{name}: {settings.base_url} does not serve {model!r} (it serves: {listed})"
            )
