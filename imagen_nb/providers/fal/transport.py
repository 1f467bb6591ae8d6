"""HTTP under fal-client: one governed transport per provider, and fal's failures as our errors.

fal-client builds its URLs from module constants (``https://queue.fal.run``, ``https://rest.fal.ai``,
``https://v3.fal.media``) and retries inside every call (``MAX_ATTEMPTS`` = 10, with its own
backoff and timeouts of 30-120 s). Changing those module constants would change every fal client
in the process, so instead each provider gives its client an httpx transport that:

* **routes** the fal hosts to the provider's ``queue_url`` / ``rest_url`` / ``cdn_url`` settings
  (a loopback server in the tests, a proxy in some companies), for this client only;
* **reads each answer whole and turns every failure into an exception that is not an httpx
  error** (:class:`HTTPFailure` for a status ≥ 400, :class:`Unreachable` for a dropped
  connection or a timeout). fal-client's retry loop only retries httpx errors and its own HTTP
  errors, so it lets these through at once: each call is one HTTP request, and our
  :class:`~imagen_nb.providers.remote.RetryPolicy` is the only retry layer;
* **caps timeouts** at the ``request_timeout`` setting and at what is left of the generation's
  ``timeout``, so no request outlives its generation;
* **records** each request as an ``ApiCall`` event of the generation it serves (see :class:`CallScope`).

It relies on three members of ``fal_client.SyncClient`` (``_client``, ``_get_cdn_client``,
``_token_manager``), present since fal-client 1.0; the tests run the real client.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

import httpx

from ...core.errors import ProviderError, RateLimited
from ..remote import ApiRecorder, TransientError, retry_after_seconds


@dataclass
class CallScope:
    """What the transport knows of the call under way on this thread.

    Args:
        recorder: where each request is published (None: not recorded).
        attempt: the attempt of our retry policy this request belongs to.
        request_id: fal's id of the request, once submitted.
        deadline: ``time.monotonic()`` by which the generation must end (None: ``request_timeout`` only).
        quiet: record failures only, and leave the last success in :attr:`last` (status polls).
    """

    recorder: ApiRecorder | None = None
    attempt: int = 1
    request_id: str | None = None
    deadline: float | None = None
    quiet: bool = False
    #: (method, url, status code, started) of the last request made in this scope.
    last: tuple[str, str, int | None, float] | None = None


class HTTPFailure(Exception):
    """fal answered with a status ≥ 400 (deliberately not an httpx error: see the module docstring)."""

    def __init__(self, method: str, url: str, status_code: int, headers: Mapping[str, str], text: str):
        self.method, self.url, self.status_code = method, url, status_code
        self.headers = dict(headers)
        self.text = text
        self.detail = detail_of(text)
        super().__init__(f"HTTP {status_code}" + (f": {self.detail}" if self.detail else ""))


class Unreachable(Exception):
    """No answer from fal: the connection failed or dropped, or the request timed out."""

    def __init__(self, method: str, url: str, cause: httpx.TransportError, timeout: float):
        self.method, self.url, self.timeout = method, url, timeout
        self.timed_out = isinstance(cause, httpx.TimeoutException)
        self.kind = type(cause).__name__
        if self.timed_out:
            text = f"no answer within {timeout:.3g} s ({self.kind})"
        else:
            text = f"connection failed ({self.kind}: {str(cause) or 'no details'})"
        super().__init__(text)


class GovernedTransport(httpx.BaseTransport):
    """Routes fal's hosts, caps timeouts, records each request and turns failures into exceptions.

    Args:
        routes: URL prefix → replacement (``https://queue.fal.run`` → ``http://127.0.0.1:8000/queue``).
        request_timeout: most seconds one request may take.
        local: the provider's thread-local holder of the current :class:`CallScope`.
    """

    def __init__(self, routes: Mapping[str, str], request_timeout: float, local: threading.local):
        self.routes = {k.rstrip("/"): v.rstrip("/") for k, v in routes.items() if k.rstrip("/") != v.rstrip("/")}
        self.request_timeout = request_timeout
        self.local = local
        self._inner = _inner_transport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._route(request)
        scope: CallScope = getattr(self.local, "scope", None) or CallScope()
        cap = self.request_timeout
        if scope.deadline is not None:
            cap = max(0.05, min(cap, scope.deadline - time.monotonic()))
        request.extensions["timeout"] = {k: cap if v is None else min(v, cap) for k, v in
                                         {**dict.fromkeys(("connect", "read", "write", "pool")),
                                          **request.extensions.get("timeout", {})}.items()}
        method, url = request.method, str(request.url)
        started = time.monotonic()
        try:
            response = self._inner.handle_request(request)
            try:
                body = response.read()
            finally:
                response.close()
        except httpx.TransportError as exc:
            failure = Unreachable(method, url, exc, cap)
            self._record(scope, method, url, None, started, str(failure))
            raise failure from exc
        scope.last = (method, url, response.status_code, started)
        if response.status_code >= 400:
            failure = HTTPFailure(method, url, response.status_code, response.headers,
                                  body.decode("utf-8", "replace"))
            self._record(scope, method, url, response.status_code, started, str(failure))
            raise failure
        if not scope.quiet:
            self._record(scope, method, url, response.status_code, started, None)
        # A fresh response over the decoded body: the client reads it again without touching the network.
        headers = [(k, v) for k, v in response.headers.multi_items()
                   if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
        return httpx.Response(response.status_code, headers=headers, content=body,
                              extensions={k: v for k, v in response.extensions.items() if k != "network_stream"})

    def _route(self, request: httpx.Request) -> None:
        url = str(request.url)
        for prefix, target in self.routes.items():
            if url == prefix or url.startswith(prefix) and url[len(prefix)] in "/?":
                request.url = httpx.URL(target + url[len(prefix):])
                request.headers["Host"] = request.url.netloc.decode("ascii")
                return

    @staticmethod
    def _record(scope: CallScope, method: str, url: str, status: int | None, started: float,
                error: str | None) -> None:
        if scope.recorder is not None:
            scope.recorder.record(method, url, status, started, request_id=scope.request_id,
                                  attempt=scope.attempt, error=error)

    def close(self) -> None:
        """Nothing: fal-client closes the clients it makes per upload; the provider calls :meth:`shutdown`."""

    def shutdown(self) -> None:
        """Close the connection pool."""
        self._inner.close()


def _inner_transport() -> httpx.BaseTransport:
    """fal-client's backup-domain transport (``queue.falrun.com`` when ``queue.fal.run`` is unreachable)."""
    try:
        from fal_client.client import BackupDomainTransport
    except ImportError:  # older fal-client: plain HTTP
        return httpx.HTTPTransport()
    return BackupDomainTransport()


@contextmanager
def scoped(local: threading.local, scope: CallScope) -> Iterator[CallScope]:
    """Make ``scope`` the current call scope of this thread while the block runs."""
    previous = getattr(local, "scope", None)
    local.scope = scope
    try:
        yield scope
    finally:
        local.scope = previous


def make_client(key: str, transport: GovernedTransport, default_timeout: float):
    """A ``fal_client.SyncClient`` for ``key`` whose every request goes through ``transport``."""
    return _client_class()(key=key, default_timeout=default_timeout, transport=transport)


@functools.cache
def _client_class():
    # Built on first use: importing fal-client costs ~100 ms and the provider loads with every Studio.
    from dataclasses import dataclass as _dataclass, field
    from functools import cached_property

    import fal_client
    from fal_client import client as fc

    class _TokenManager(fc.CDNTokenManager):
        """fal-client's CDN token manager, fetching through our client (its own makes a bare httpx.Client)."""

        def __init__(self, auth, http: httpx.Client):
            super().__init__(auth)
            self._http = http

        def _refresh_token(self):
            from datetime import datetime

            data = self._http.post(self._url, headers=self._headers, json={}).json()
            return fc.CDNToken(token=data["token"], token_type=data["token_type"],
                               base_upload_url=data["base_url"],
                               expires_at=datetime.fromisoformat(data["expires_at"]))

    @_dataclass(frozen=True)
    class GovernedSyncClient(fal_client.SyncClient):
        """``fal_client.SyncClient`` whose HTTP clients all use one :class:`GovernedTransport`."""

        transport: Any = field(default=None, repr=False)

        @cached_property
        def _client(self) -> httpx.Client:
            return httpx.Client(transport=self.transport, timeout=self.default_timeout, follow_redirects=True,
                                headers={"Authorization": self._auth.header_value, "User-Agent": fc.USER_AGENT})

        @cached_property
        def _token_manager(self):
            return _TokenManager(self._auth, self._client)

        def _get_cdn_client(self) -> httpx.Client:
            token = self._token_manager.get_token()
            return httpx.Client(transport=self.transport, timeout=self.default_timeout,
                                headers={"Authorization": f"{token.token_type} {token.token}",
                                         "User-Agent": fc.USER_AGENT})

        def close(self) -> None:
            """Close the HTTP client (the transport's pool is closed by the provider)."""
            if "_client" in self.__dict__:
                self._client.close()

    return GovernedSyncClient


# ---- fal's failures as our errors ----------------------------------------------------------

def detail_of(text: str) -> str:
    """fal's message in an error body: ``detail`` (a string or FastAPI's list of field errors)."""
    try:
        body = json.loads(text)
    except ValueError:
        return " ".join(text.split())[:300]
    detail = body.get("detail", body.get("error", body.get("message"))) if isinstance(body, dict) else body
    if isinstance(detail, list):
        parts = []
        for item in detail[:5]:
            if isinstance(item, Mapping):
                loc = [str(p) for p in item.get("loc", []) if p != "body"]
                parts.append(f"{'.'.join(loc)}: {item.get('msg', '')}".strip(": "))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    if detail is None:
        return " ".join(text.split())[:300]
    return str(detail)[:500] if not isinstance(detail, (dict, list)) else json.dumps(detail)[:500]


def http_error(exc: HTTPFailure, what: str) -> ProviderError:
    """The error for an HTTP failure of ``what`` (``submit``, ``status poll``…), with fal's message."""
    status, detail = exc.status_code, exc.detail
    said = f": {detail}" if detail else ""
    if status == 429:
        wait = retry_after_seconds(exc.headers.get("retry-after"))
        return RateLimited(f"fal rate-limited the {what} (HTTP 429){said}", retry_after=wait)
    if status >= 500 or status in (408, 409):  # fal-client's own judgement of what is worth retrying
        return TransientError(f"fal's {what} failed (HTTP {status}){said}")
    if status in (401, 403):
        return ProviderError(f"fal refused the API key at the {what} (HTTP {status}){said}. Set a valid key "
                             "with `imagen-nb keys set fal` or the FAL_KEY environment variable")
    return ProviderError(f"fal rejected the {what} (HTTP {status}){said}")


def unreachable_error(exc: Unreachable, what: str) -> TransientError:
    """The (retryable) error for a request of ``what`` that got no answer."""
    return TransientError(f"fal's {what}: {exc}")


def json_of(response: httpx.Response, what: str) -> Any:
    """The JSON body of a response; ProviderError when fal sent something else."""
    try:
        return response.json()
    except ValueError:
        raise malformed(what, response.text) from None


def malformed(what: str, text: str) -> ProviderError:
    """The error for a body that is not the JSON fal promises."""
    shown = " ".join(text.split())[:120]
    return ProviderError(f"fal returned malformed JSON for the {what} ({shown!r}); "
                         "this is fal's fault or a proxy's, try again later")
