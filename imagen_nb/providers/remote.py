"""What remote providers share: retries with backoff, output downloads, cached specs, API-call events.

fal and Replicate each implement :class:`RemoteProvider` / :class:`RemoteFactory` with their
official client; this module holds the parts that do not depend on the service.
"""

from __future__ import annotations

import abc
import dataclasses
import mimetypes
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, ClassVar, Mapping, Protocol, TypeVar

from ..core.errors import GenerationCancelled, ProviderError, RateLimited, did_you_mean
from ..core.records import ApiCall, ModelInfo, Output
from .base import Factory, Provider, ProviderContext, RunContext
from .checks import Check, spec_check
from .health import Health
from .health import reach as check_reach
from .keys import ENV_VARS, KeyStore, redact
from .settings import ProviderSettings, non_negative_number, positive_int, positive_number, setting

T = TypeVar("T")

#: Largest output accepted by default (a few minutes of 1080p video fit).
MAX_OUTPUT_BYTES = 512 * 1024 * 1024


class TransientError(ProviderError):
    """A failure worth retrying: 5xx, a dropped connection, a timeout of one request."""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, bounded in attempts and in total seconds.

    Args:
        attempts: most tries of one call (1 = no retry).
        base: first backoff ceiling in seconds; doubles per attempt up to ``cap``.
        deadline: no retry starts after this many seconds since the first try.
    """

    attempts: int = 4
    base: float = 0.5
    cap: float = 8.0
    deadline: float = 60.0

    def until(self, end: float) -> RetryPolicy:
        """This policy with its deadline cut to what is left before ``end`` (a ``time.monotonic()`` value)."""
        return dataclasses.replace(self, deadline=max(0.0, min(self.deadline, end - time.monotonic())))

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before try ``attempt + 1`` (full jitter)."""
        ceiling = min(self.cap, self.base * (2 ** (attempt - 1)))
        return (rng or random).uniform(0, ceiling)


def call_with_retries(fn: Callable[[int], T], *, policy: RetryPolicy,
                      cancelled: Callable[[], bool] = lambda: False,
                      sleep: Callable[[float], None] = time.sleep) -> T:
    """Call ``fn(attempt)`` until it returns, retrying TransientError and RateLimited.

    ``RateLimited.retry_after`` is honoured (bounded by the policy's deadline); other errors
    propagate at once. The last error propagates when attempts or the deadline run out.
    """
    start = time.monotonic()
    attempt = 1
    while True:
        try:
            return fn(attempt)
        except (TransientError, RateLimited) as exc:
            if attempt >= policy.attempts:
                raise
            wait = policy.backoff(attempt)
            if isinstance(exc, RateLimited) and exc.retry_after is not None:
                wait = max(wait, float(exc.retry_after))
            if time.monotonic() - start + wait > policy.deadline:
                raise
            _sleep_unless_cancelled(wait, cancelled, sleep)
            attempt += 1


def _sleep_unless_cancelled(seconds: float, cancelled: Callable[[], bool], sleep) -> None:
    end = time.monotonic() + seconds
    while True:
        if cancelled():
            raise GenerationCancelled("cancelled while waiting to retry")
        left = end - time.monotonic()
        if left <= 0:
            return
        sleep(min(left, 0.1))


def retry_after_seconds(value: str | None) -> float | None:
    """Parse a Retry-After header (seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


_MAGIC: list[tuple[int, bytes, str]] = [
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"\x1a\x45\xdf\xa3", "video/webm"),
    (0, b"fLaC", "audio/flac"),
    (0, b"OggS", "audio/ogg"),
    (0, b"ID3", "audio/mpeg"),
]


def sniff_media_type(head: bytes, declared: str | None = None) -> str | None:
    """The media type from a file's first bytes; ``declared`` (a Content-Type) only as a fallback."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[4:8] == b"ftyp":
        return "audio/mp4" if head[8:12] in (b"M4A ", b"M4B ") else "video/mp4"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "audio/mpeg"
    for offset, magic, kind in _MAGIC:
        if head[offset:offset + len(magic)] == magic:
            return kind
    if declared:
        kind = declared.split(";")[0].strip().lower()
        if kind.split("/")[0] in ("image", "video", "audio"):
            return kind
    return None


def input_media_type(data: bytes, file_name: str | None = None) -> str:
    """The media type of an input file: sniffed from its bytes, else guessed from its name."""
    return sniff_media_type(data[:64]) or (mimetypes.guess_type(file_name)[0] if file_name else None) \
        or "application/octet-stream"


def download(url: str, *, client, max_bytes: int = MAX_OUTPUT_BYTES, timeout: float = 120.0,
             deadline: float | None = None) -> Output:
    """Stream ``url`` with an ``httpx.Client``; size-checked, typed from its content.

    ``timeout`` bounds each read; ``deadline`` (a ``time.monotonic()`` value, default now +
    ``timeout``) bounds the whole download, so a server trickling bytes cannot hold it forever.

    Raises TransientError for 5xx and connection failures, ProviderError for 4xx, an output
    over ``max_bytes`` or content that is not an image, video or audio file.
    """
    import httpx

    deadline = time.monotonic() + timeout if deadline is None else deadline
    try:
        with client.stream("GET", url, timeout=timeout, follow_redirects=True) as response:
            if response.status_code >= 500:
                raise TransientError(f"downloading {url} failed: HTTP {response.status_code}")
            if response.status_code >= 400:
                raise ProviderError(f"downloading the output {url} failed: HTTP {response.status_code}")
            declared_size = response.headers.get("content-length")
            if declared_size and declared_size.isdigit() and int(declared_size) > max_bytes:
                raise ProviderError(f"the output {url} is {int(declared_size):,} bytes, over the limit of "
                                    f"{max_bytes:,}; raise max_output_bytes in the provider settings")
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise ProviderError(f"the output {url} is over the limit of {max_bytes:,} bytes; "
                                        "raise max_output_bytes in the provider settings")
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise TransientError(f"downloading {url} took longer than its time limit "
                                         f"({size:,} bytes so far)")
            declared = response.headers.get("content-type")
    except (httpx.TransportError, httpx.TimeoutException) as exc:
        raise TransientError(f"downloading {url} failed: {type(exc).__name__}") from exc
    data = b"".join(chunks)
    kind = sniff_media_type(data[:64], declared)
    if kind is None:
        raise ProviderError(f"the output {url} is not an image, video or audio file "
                            f"(Content-Type {declared!r}, {len(data):,} bytes)")
    return Output(data, kind)


class SpecCache(Protocol):
    """Where fetched parameter specs are kept between sessions (the Studio backs it with the catalog)."""

    def get(self, model_id: str) -> tuple[ModelInfo, datetime] | None:
        """The cached model and when its spec was fetched, or None."""

    def put(self, model: ModelInfo) -> None:
        """Remember a model with a freshly fetched spec."""


class ApiRecorder:
    """Times calls and publishes one :class:`ApiCall` event per HTTP request of a generation."""

    def __init__(self, provider: str, ctx: RunContext | None, generation_id: str, order_id: str = "",
                 secrets: tuple[str | None, ...] = ()):
        self.provider = provider
        self.ctx = ctx
        self.generation_id = generation_id
        self.order_id = order_id
        self.secrets = secrets

    def record(self, method: str, endpoint: str, status_code: int | None, started: float, *,
               request_id: str | None = None, attempt: int = 1, error: str | None = None) -> None:
        """Publish one call (``started`` is a ``time.monotonic()`` value)."""
        if self.ctx is None:
            return
        self.ctx.publish(ApiCall(
            provider=self.provider, generation_id=self.generation_id, order_id=self.order_id,
            method=method, endpoint=redact(endpoint.split("?")[0], *self.secrets),
            status_code=status_code, duration=time.monotonic() - started, request_id=request_id,
            attempt=attempt, error=redact(error, *self.secrets) if error else None))


@dataclass(frozen=True)
class RemoteSettings(ProviderSettings):
    """Settings every remote provider takes (``concurrency``: requests in flight, default 4)."""

    provider: ClassVar[str] = "remote"

    timeout: float = setting(600.0, "Seconds a generation may take end to end.", positive_number)
    retries: int = setting(4, "Attempts per HTTP call (1 = no retry).", positive_int)
    retry_base: float = setting(0.5, "First backoff ceiling of the retry policy in seconds (doubles per try).",
                                non_negative_number)
    request_timeout: float = setting(30.0, "Most seconds one HTTP request may take.", positive_number)
    poll_interval: float = setting(0.5, "Seconds between status polls of a running request.", positive_number)
    spec_ttl_days: float = setting(30.0, "Fetched parameter specs older than this are fetched again.",
                                   non_negative_number)
    max_output_bytes: int = setting(MAX_OUTPUT_BYTES, "Largest output file downloaded, in bytes.", positive_int)


RS = TypeVar("RS", bound=RemoteSettings)


class RemoteProvider(Provider[RS]):
    """Base of providers that run models over HTTP: keys, curated models, cached specs.

    Settings: the fields of :class:`RemoteSettings` (and the subclass's own).
    """

    execution = "remote"
    Settings: ClassVar[type[ProviderSettings]] = RemoteSettings
    #: Models listed before any fetch, with types and families filled in.
    curated: tuple[ModelInfo, ...] = ()

    def __init__(self, context: ProviderContext):
        super().__init__(context)
        self.keys = KeyStore(context.home)

    def health_url(self) -> str | None:
        """Where reachability is checked; None: not checked."""
        return None

    def health(self, reach: bool = False) -> Health:
        """Key present (never shown) and, with ``reach``, the endpoint answering one GET."""
        source = self.keys.source(self.name)
        problems = [] if source else [f"no API key: run `imagen-nb keys set {self.name}` or set "
                                      f"{ENV_VARS.get(self.name, self.name.upper() + '_KEY')}"]
        reachable = None
        url = self.health_url()
        if reach and url:
            reachable, said = check_reach(url, min(self.request_timeout, 10.0))
            if not reachable:
                problems.append(said + "; check the network or the provider's URL setting")
        detail = "; ".join(problems) or (f"key from {source}" + (f"; {url} reachable" if reachable else ""))
        return Health(self.name, "remote", not problems, key=source or "missing", reachable=reachable,
                      detail=detail)

    @property
    def timeout(self) -> float:
        """Seconds a generation may take end to end."""
        return self.settings.timeout

    @property
    def retry_policy(self) -> RetryPolicy:
        """How calls are retried (settings ``retries``: attempts per call; ``retry_base``: first
        backoff ceiling in seconds, default 0.5)."""
        return RetryPolicy(attempts=self.settings.retries, base=self.settings.retry_base,
                           deadline=min(60.0, self.timeout))

    @property
    def request_timeout(self) -> float:
        """Most seconds one HTTP request may take (setting ``request_timeout``, default 30)."""
        return self.settings.request_timeout

    @property
    def poll_interval(self) -> float:
        """Seconds between status polls of a running request (setting ``poll_interval``, default 0.5)."""
        return self.settings.poll_interval

    @property
    def max_output_bytes(self) -> int:
        """Largest output file downloaded (setting ``max_output_bytes``)."""
        return self.settings.max_output_bytes

    def models(self) -> list[ModelInfo]:
        """The curated models (others work by id once their spec can be fetched)."""
        return list(self.curated)

    def model(self, name: str) -> ModelInfo:
        """A curated model, a cached one, or one whose spec is fetched now (and cached)."""
        cache: SpecCache | None = self.context.spec_cache
        if cache is not None:
            hit = cache.get(f"{self.name}:{name}")
            ttl = timedelta(days=self.settings.spec_ttl_days)
            if hit is not None and datetime.now(timezone.utc) - hit[1] < ttl:
                return hit[0]
        try:
            model = self.fetch_model(name)
        except ProviderError:
            curated = {m.name: m for m in self.curated}
            if name in curated:  # offline, or the service is down: the curated spec still works
                return curated[name]
            raise
        if cache is not None:
            cache.put(model)
        return model

    @abc.abstractmethod
    def fetch_model(self, name: str) -> ModelInfo:
        """Fetch the model's parameter spec from the service; ProviderError when it cannot."""

    def unknown(self, name: str, reason: str) -> ProviderError:
        """An error for a model id the service does not know, with a suggestion."""
        from ..core.errors import UnknownModelError

        known = [m.name for m in self.curated]
        return UnknownModelError(f"{self.name} has no model {name!r}: {reason}.{did_you_mean(name, known)}")


class RemoteFactory(Factory):
    """Base of remote factories: checks the key before anything is queued."""

    def __init__(self, model: ModelInfo, provider: RemoteProvider):
        super().__init__(model)
        self.provider = provider

    def key_check(self) -> Check:
        """``key`` (once per order): the provider's key is set (MissingKey saying how to set it otherwise)."""

        def run(given: Mapping[str, Any], params: dict[str, Any]) -> dict[str, Any]:
            self.provider.keys.require(self.provider.name)
            return params

        return Check("key", run, each="order")

    def checks(self) -> list[Check]:
        """``key``, then ``spec``."""
        return [self.key_check(), spec_check(self.model.spec, self.model.id)]
