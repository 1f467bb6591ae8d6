"""HTTP plumbing of the replicate provider: a transport that cannot hang, and our errors for the client's.

``replicate`` (<2) builds its ``httpx.Client`` itself and wraps the transport in a
``RetryTransport`` that silently retries GETs up to 10 times on 429/503/504. The provider
mounts :func:`bounded_transport` for every URL instead (``mounts={"all://": …}``, a public
``httpx.Client`` argument the client passes through), so our RetryPolicy alone decides, and
every request gets a timeout even where the client passes ``timeout=None``
(``predictions.create``, ``files.create``).
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from ...core.errors import ImagenError, ProviderError, RateLimited
from ..keys import scrubbed
from ..remote import TransientError, retry_after_seconds


class NotFound(ProviderError):
    """HTTP 404 from the API: an unknown model or version when a spec is fetched."""


def is_remote(value: str) -> bool:
    """True for what Replicate fetches itself: http(s) URLs and data URIs."""
    return value.startswith(("http://", "https://", "data:"))


_BOUNDED: type | None = None


def bounded_transport(timeout):
    """An ``httpx.HTTPTransport`` that never retries and fills in the timeouts a request left unset."""
    global _BOUNDED
    import httpx

    if _BOUNDED is None:
        class BoundedTransport(httpx.HTTPTransport):
            def __init__(self, defaults: httpx.Timeout):
                super().__init__(retries=0)
                self.defaults = defaults.as_dict()

            def handle_request(self, request: httpx.Request) -> httpx.Response:
                given = request.extensions.get("timeout") or {}
                request.extensions["timeout"] = {
                    k: given.get(k) if given.get(k) is not None else v for k, v in self.defaults.items()}
                return super().handle_request(request)

        _BOUNDED = BoundedTransport
    return _BOUNDED(timeout)


def translate_error(exc: BaseException, what: str, *, response: Any, request_timeout: float,
                    hidden: Sequence[str | None] = ()) -> BaseException:
    """Our error for a failure of the client, with no secret in its message.

    429 → RateLimited (Retry-After honoured); 5xx, connection failures and timeouts →
    TransientError (retried); other 4xx → ProviderError with the API's ``detail``; a body that is
    not JSON → ProviderError("Replicate returned malformed JSON …").

    Args:
        what: ``"POST /v1/predictions"``, for the message.
        response: the last ``httpx.Response`` received for this call, or None.
    """
    import httpx
    from replicate.exceptions import ReplicateError

    status = None if response is None else response.status_code
    if isinstance(exc, ImagenError):
        return scrubbed(exc, *hidden)
    if isinstance(exc, ReplicateError):
        status = exc.status or status
        detail = exc.detail or exc.title or _body_preview(response) or "no detail given"
        if status == 429:
            after = retry_after_seconds(response.headers.get("retry-after")) if response is not None else None
            err: ImagenError = RateLimited(f"Replicate rate-limited {what} (HTTP 429: {detail})", after)
        elif status is not None and status >= 500:
            err = TransientError(f"Replicate failed on {what}: HTTP {status}: {detail}")
        elif status in (401, 403):
            err = ProviderError(f"Replicate refused the API token on {what} (HTTP {status}: {detail}); set a "
                                "valid one with `imagen-nb keys set replicate` or REPLICATE_API_TOKEN")
        elif status == 404:
            err = NotFound(f"Replicate has nothing at {what} (HTTP 404: {detail})")
        elif status == 422:
            err = ProviderError(f"Replicate rejected the input of {what} (HTTP 422: {detail})")
        else:
            err = ProviderError(f"Replicate refused {what}: HTTP {status}: {detail}")
    elif isinstance(exc, httpx.TimeoutException):
        err = TransientError(f"{what} got no answer within {request_timeout:g} s (setting request_timeout): "
                             f"{type(exc).__name__}")
    elif isinstance(exc, httpx.TransportError):
        err = TransientError(f"{what} failed: {type(exc).__name__}: {exc}")
    elif isinstance(exc, json.JSONDecodeError):
        err = ProviderError(f"Replicate returned malformed JSON for {what} (HTTP {status}): {exc.doc[:80]!r}")
    elif isinstance(exc, (ValueError, TypeError, KeyError, AttributeError)):  # JSON of the wrong shape
        first = str(exc).strip().splitlines()
        err = ProviderError(f"Replicate returned an unexpected response for {what} (HTTP {status}): "
                            f"{type(exc).__name__}: {' '.join(first[:3])[:300]}")
    else:
        err = ProviderError(f"{what} failed: {type(exc).__name__}: {exc}")
    return scrubbed(err, *hidden)


def _body_preview(response) -> str:
    if response is None:
        return ""
    try:
        return " ".join(response.text.split())[:200]
    except Exception:  # a streamed body not read yet
        return ""
