"""Check that a Pub/Sub push request comes from Pub/Sub: its Google-signed OIDC token.

A push subscription made with ``--push-auth-service-account`` sends
``Authorization: Bearer <JWT>``, signed by Google for that service account, whose audience is
the subscription's ``--push-auth-token-audience`` (or its endpoint URL). See
https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions. The Slack service runs
``--allow-unauthenticated`` (Slack sends no Google token), so Cloud Run IAM cannot guard this
one route: the bot checks the token itself, before anything else runs.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import google.auth.exceptions
import google.auth.transport
import google.auth.transport.requests
from google.oauth2 import id_token

from tuning.errors import SarcasmError

log = logging.getLogger(__name__)

# Google's signing certificates change every few days and stay valid for longer; fetching them
# for every push would cost a round trip per work item.
CERTS_TTL_SECONDS = 15 * 60


class PushAuthUnavailable(SarcasmError):
    """Google's signing certificates could not be fetched: not the caller's fault (503)."""


class CachedCertsRequest(google.auth.transport.Request):
    """A google-auth transport that keeps successful GET responses (the certs) for a while."""

    def __init__(
        self,
        inner: google.auth.transport.Request,
        *,
        ttl: float = CERTS_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner, self._ttl, self._clock = inner, ttl, clock
        self._cache: dict[str, tuple[float, google.auth.transport.Response]] = {}
        self._lock = threading.Lock()  # verification runs in worker threads

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> google.auth.transport.Response:
        """Answer a GET from the cache while fresh; pass everything else through."""
        response: google.auth.transport.Response
        if method != "GET" or body is not None:
            response = self._inner(url, method, body, headers, timeout, **kwargs)
            return response
        with self._lock:
            hit = self._cache.get(url)
        if hit is not None and hit[0] > self._clock():
            return hit[1]
        response = self._inner(url, method, body, headers, timeout, **kwargs)
        if response.status == 200:
            with self._lock:
                self._cache[url] = (self._clock() + self._ttl, response)
        return response


class PushVerifier:
    """Accept push requests carrying a valid Google ID token for one audience and one account."""

    def __init__(
        self,
        *,
        audience: str,
        service_account: str,
        request: google.auth.transport.Request | None = None,
    ) -> None:
        self.audience, self.service_account = audience, service_account
        self._request = request or CachedCertsRequest(google.auth.transport.requests.Request())

    async def status(self, authorization: str | None) -> int | None:
        """Return None for a request Pub/Sub signed, else its HTTP status (401 or 403).

        Raise PushAuthUnavailable when Google's certificates cannot be fetched.
        """
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return 401
        try:
            # Blocking: an HTTP fetch of the certificates (when not cached) and an RSA check.
            claims = await asyncio.to_thread(
                id_token.verify_oauth2_token, token.strip(), self._request, self.audience
            )
        except google.auth.exceptions.TransportError as exc:
            raise PushAuthUnavailable(f"cannot fetch Google's signing certificates: {exc}") from exc
        except (ValueError, google.auth.exceptions.GoogleAuthError) as exc:
            # Bad signature, wrong audience or issuer, expired: one line, never the token.
            log.info("refused a push request: %s", type(exc).__name__)
            return 401
        if claims.get("email") != self.service_account or claims.get("email_verified") is not True:
            log.info("refused a push request signed for another account")
            return 403
        return None
