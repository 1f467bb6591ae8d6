"""civitai over HTTP: one JSON call under our retry policy, and our errors for civitai's answers.

Two services speak JSON: the site API (``https://civitai.com/api/v1/…``: models, model versions,
by-hash) and the orchestration API (``https://orchestration.civitai.com/v2/consumer/…``:
generation workflows). Errors come as ``{"error": …}`` / ``{"message": …}`` from the site and
as RFC 7807 ``ProblemDetails`` (``title``, ``detail``) from the orchestrator; both are read.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable, Mapping, Sequence

from ...core.errors import ImagenError, ProviderError, RateLimited
from ..keys import scrubbed
from ..remote import ApiRecorder, RetryPolicy, TransientError, call_with_retries, retry_after_seconds

KEY_HELP = "set one with `imagen-nb keys set civitai` or CIVITAI_API_TOKEN (make it at civitai.com/user/account, API Keys)"


class NotFound(ProviderError):
    """HTTP 404: civitai has no such model, version, file or workflow."""


def detail_of(response) -> str:
    """The message in an error body (``detail``/``title``, ``error``, ``message``), else its first characters."""
    try:
        body = response.json()
    except Exception:  # not JSON: show what it is
        text = " ".join((response.text or "").split())
        return text[:200] or "no detail given"
    if isinstance(body, Mapping):
        for key in ("detail", "error", "message", "title"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value[:500]
            if isinstance(value, Mapping) and isinstance(value.get("message"), str):
                return value["message"][:500]
    return json.dumps(body)[:200]


def check(response, what: str) -> None:
    """Raise our error for a response that is not a success (see the module docstring)."""
    status = response.status_code
    if status < 400:
        return
    detail = detail_of(response)
    if status == 429:
        raise RateLimited(f"civitai rate-limited {what} (HTTP 429: {detail})",
                          retry_after_seconds(response.headers.get("retry-after")))
    if status >= 500:
        raise TransientError(f"civitai failed on {what}: HTTP {status}: {detail}")
    if status in (401, 403):
        raise ProviderError(f"civitai refused the API token on {what} (HTTP {status}: {detail}); {KEY_HELP}")
    if status == 402:
        raise ProviderError(f"civitai refused {what}: your account has too little Buzz for it (HTTP 402: {detail})")
    if status == 404:
        raise NotFound(f"civitai has nothing at {what} (HTTP 404: {detail})")
    raise ProviderError(f"civitai refused {what}: HTTP {status}: {detail}")


def parse_json(response, what: str) -> Any:
    """The response's JSON body; ProviderError("civitai returned malformed JSON …") otherwise."""
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        preview = " ".join(response.text.split())[:80]
        raise ProviderError(f"civitai returned malformed JSON for {what} (HTTP {response.status_code}): "
                            f"{preview!r}") from None


def request_json(client, method: str, url: str, *, what: str, key: str | None, policy: RetryPolicy,
                 params: Mapping[str, Any] | None = None, body: Any = None, timeout: float = 30.0,
                 recorder: ApiRecorder | None = None, cancelled: Callable[[], bool] = lambda: False,
                 quiet: Callable[[Any], bool] | None = None, hidden: Sequence[str | None] = ()) -> Any:
    """One JSON call with ``client`` (an ``httpx.Client``), retried under ``policy``.

    429 → RateLimited (Retry-After honoured), 5xx, dropped connections and timeouts →
    TransientError (retried); other errors at once. ``key`` goes in an ``Authorization: Bearer``
    header and never into a message. ``quiet(value)`` True: a successful attempt is not recorded
    (repeated polls).
    """
    import httpx

    headers = {"Accept": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    secrets = (key, *hidden)

    def attempt(n: int) -> Any:
        started = time.monotonic()
        status = None
        try:
            response = client.request(method, url, params=params, json=body, headers=headers, timeout=timeout)
            status = response.status_code
            check(response, what)
            value = parse_json(response, what)
        except ImagenError as exc:
            err = scrubbed(exc, *secrets)
        except httpx.TimeoutException as exc:
            err = TransientError(f"{what} got no answer within {timeout:g} s (setting request_timeout): "
                                 f"{type(exc).__name__}")
        except httpx.TransportError as exc:
            err = scrubbed(TransientError(f"{what} failed: {type(exc).__name__}: {exc}"), *secrets)
        else:
            if recorder is not None and (n > 1 or quiet is None or not quiet(value)):
                recorder.record(method, url, status, started, attempt=n)
            return value
        if recorder is not None:
            recorder.record(method, url, status, started, attempt=n, error=str(err))
        raise err

    return call_with_retries(attempt, policy=policy, cancelled=cancelled)
