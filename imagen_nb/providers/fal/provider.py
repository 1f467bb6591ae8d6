"""The ``fal`` provider: models on fal.ai run through fal's queue with the official ``fal-client``.

Model ids are ``fal:<app>`` (``fal:fal-ai/fast-sdxl``, ``fal:fal-ai/flux/schnell``). The curated
models (:data:`~imagen_nb.providers.fal.spec.CURATED`) have hand-written specs; any other app works
once its parameter spec is read from fal's OpenAPI (fetched once, then kept in the Studio's spec
cache). Specs use diffusers' parameter names; ``fal.spec`` holds the small mapping to fal's.

A generation: upload local image inputs to fal's CDN → submit to the queue → poll the status
(with logs: progress, cancellation, the ``timeout``) → fetch the result → download every file in
it. How fal-client is governed (routing, one retry layer, timeouts) is told in ``fal.transport``.

Settings (``Studio(providers={"fal": {...}})``): the fields of :class:`FalSettings` (fal's hosts,
the OpenAPI URL) and of :class:`~imagen_nb.providers.remote.RemoteSettings` (timeouts, retries…).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence
from urllib.parse import quote

from ...core.errors import ProviderError, UnknownModelError, ValidationError
from ...core.file_inputs import file_inputs
from ...core.records import GenerationRequest, GenerationResult, ModelInfo
from ..base import Factory, ProviderContext, RunContext
from ..checks import Check
from ..keys import scrubbed
from ..remote import RemoteFactory, RemoteProvider, RemoteSettings, RetryPolicy, TransientError, call_with_retries
from ..settings import setting, text
from .queue import Generation, is_url
from .spec import CURATED, model_from_openapi

#: Where fal publishes the OpenAPI document of each endpoint.
OPENAPI_URL = "https://fal.ai/api/openapi/queue/openapi.json?endpoint_id={app}"

#: Settings that move one of fal's hosts, and the fal_client.client constant each one replaces.
HOST_SETTINGS = {"queue_url": "QUEUE_URL_FORMAT", "rest_url": "REST_URL", "cdn_url": "CDN_URL"}


@dataclass(frozen=True)
class FalSettings(RemoteSettings):
    """Settings of the ``fal`` provider."""

    provider: ClassVar[str] = "fal"

    queue_url: str | None = setting(None, "Where fal's queue is reached instead of fal-client's host (a proxy,"
                                    " a loopback server in tests).", text)
    rest_url: str | None = setting(None, "Where fal's REST API (upload tokens) is reached instead.", text)
    cdn_url: str | None = setting(None, "Where fal's CDN (uploads) is reached instead.", text)
    openapi_url: str = setting(OPENAPI_URL, "Template of an endpoint's OpenAPI URL; {app} is the app id.", text)


class FalProvider(RemoteProvider[FalSettings]):
    """fal.ai: curated models with hand-written specs, any other app through its OpenAPI."""

    name = "fal"
    curated = CURATED
    Settings = FalSettings

    def __init__(self, context: ProviderContext):
        super().__init__(context)
        self._lock = threading.Lock()
        self._fetched: dict[str, ModelInfo] = {}  # this session's fetched specs (the cache may be absent)
        self._clients: dict[str, Any] = {}
        self._transport = None
        self._downloader = None
        self.local = threading.local()  # the CallScope of the call under way on each worker thread

    # -- settings --------------------------------------------------------------------------
    @property
    def openapi_url(self) -> str:
        """Template of an endpoint's OpenAPI URL (setting ``openapi_url``; ``{app}`` is the app id)."""
        return self.settings.openapi_url

    # -- models ----------------------------------------------------------------------------
    def model(self, name: str) -> ModelInfo:
        """A curated model, or any fal app by id (its spec fetched once, then cached)."""
        for m in self.curated:
            if m.name == name:
                return m
        with self._lock:
            if name in self._fetched:
                return self._fetched[name]
        model = super().model(name)
        with self._lock:
            self._fetched[name] = model
        return model

    def fetch_model(self, name: str) -> ModelInfo:
        """Read the app's input schema from fal's OpenAPI; UnknownModelError when fal has none."""
        import httpx

        if not re.fullmatch(r"[\w.-]+(/[\w.-]+)*", name):
            raise self.unknown(name, "fal app ids look like 'owner/app' or 'owner/app/path'")
        url = self.openapi_url.replace("{app}", quote(name, safe="/"))

        def fetch(attempt: int):
            try:
                with httpx.Client(timeout=self.request_timeout, follow_redirects=True) as client:
                    response = client.get(url)
            except httpx.TransportError as exc:
                raise TransientError(f"could not fetch the parameter spec of fal:{name} from {url.split('?')[0]} "
                                     f"({type(exc).__name__}); check the network or the openapi_url setting") from exc
            if response.status_code == 404:
                raise self.unknown(name, "fal has no such endpoint (its OpenAPI answered 404)")
            if response.status_code >= 500:
                raise TransientError(f"fal's OpenAPI for {name} failed (HTTP {response.status_code})")
            if response.status_code >= 400:
                raise ProviderError(f"fal's OpenAPI for {name} refused the request (HTTP {response.status_code})")
            try:
                return response.json()
            except ValueError:
                raise ProviderError(f"fal's OpenAPI for {name} is not JSON") from None

        doc = call_with_retries(fetch, policy=RetryPolicy(attempts=2, base=0.2, deadline=self.request_timeout))
        return model_from_openapi(doc, name)

    def unknown(self, name: str, reason: str) -> UnknownModelError:
        """UnknownModelError naming the curated models to choose from."""
        err = super().unknown(name, reason)
        return UnknownModelError(f"{err} Curated: {', '.join(m.name for m in self.curated)}.")

    def factory(self, model: ModelInfo) -> Factory:
        """The factory that runs ``model`` on fal; ProviderError when fal-client is not installed."""
        import importlib.util

        if importlib.util.find_spec("fal_client") is None:
            raise ProviderError("the fal provider needs fal-client: pip install 'imagen-nb[fal]'")
        return FalFactory(model, self)

    def health_url(self) -> str:
        """fal's queue host (setting ``queue_url``, else fal-client's), where generations are submitted."""
        if self.settings.queue_url:
            return str(self.settings.queue_url)
        try:
            from fal_client import client as fc

            return str(fc.QUEUE_URL_FORMAT)
        except ImportError:
            return "https://queue.fal.run/"

    # -- HTTP ------------------------------------------------------------------------------
    def client(self, key: str):
        """The fal-client SyncClient for ``key`` (one per key, over this provider's transport)."""
        from .transport import GovernedTransport, make_client

        with self._lock:
            if self._transport is None:
                try:
                    from fal_client import client as fc
                except ImportError:
                    raise ProviderError("the fal provider needs fal-client: pip install 'imagen-nb[fal]'") from None
                # Only the hosts a setting moves are routed: fal-client's own (FAL_QUEUE_RUN_HOST…) stay.
                routes = {getattr(fc, const): str(getattr(self.settings, name))
                          for name, const in HOST_SETTINGS.items() if getattr(self.settings, name)}
                self._transport = GovernedTransport(routes, self.request_timeout, self.local)
            client = self._clients.get(key)
            if client is None:
                # One client per key: a key changed with `imagen-nb keys set` is used by the next generation.
                client = self._clients[key] = make_client(key, self._transport, self.request_timeout)
            return client

    @property
    def downloader(self):
        """The httpx client that fetches outputs: no key (output URLs may be anyone's), status noted per thread."""
        import httpx

        with self._lock:
            if self._downloader is None:
                def note(response):
                    scope = getattr(self.local, "scope", None)
                    if scope is not None:
                        scope.last = ("GET", str(response.request.url), response.status_code, time.monotonic())

                self._downloader = httpx.Client(follow_redirects=True, event_hooks={"response": [note]})
            return self._downloader

    def close(self) -> None:
        """Close the HTTP clients."""
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
            if self._transport is not None:
                self._transport.shutdown()
                self._transport = None
            if self._downloader is not None:
                self._downloader.close()
                self._downloader = None


class FalFactory(RemoteFactory):
    """Runs one fal app; each request is one queued fal request."""

    provider: FalProvider

    def checks(self) -> list[Check]:
        """``key``, ``spec``, then ``fal-inputs``: local file inputs exist (made absolute), width and
        height come together."""
        return [*super().checks(), Check("fal-inputs", self._inputs)]

    def _inputs(self, given: Mapping[str, Any], out: dict[str, Any]) -> dict[str, Any]:
        props = self.model.spec.get("properties", {})
        for name in file_inputs(self.model.spec):
            value = out.get(name)
            if isinstance(value, str) and not is_url(value):
                path = Path(value).expanduser()
                if not path.is_file():
                    raise ValidationError(name, f"{name} must be a URL or a local file; no file at {value!r}")
                out[name] = str(path.resolve())  # the worker (or a resumed order) may run elsewhere
        sized = [n for n, p in props.items() if str(p.get("x-fal", "")).startswith("image_size.")]
        given = [n for n in sized if out.get(n) is not None]
        if given and len(given) < len(sized):
            missing = next(n for n in sized if n not in given)
            raise ValidationError(missing, f"give {' and '.join(sized)} together: fal's image_size takes both")
        return out

    def run(self, requests: Sequence[GenerationRequest], ctx: RunContext) -> list[GenerationResult | BaseException]:
        """Run each request on fal; a failure is returned for its request, never raised."""
        return [self._one(req, ctx) for req in requests]

    def _one(self, req: GenerationRequest, ctx: RunContext) -> GenerationResult | BaseException:
        key = None
        try:
            key = self.provider.keys.require("fal")
            result = Generation(self, req, ctx, key).run()
        except Exception as exc:  # one request's failure never fails the batch
            result = exc
        return scrubbed(result, key) if isinstance(result, BaseException) else result


__all__ = ["FalProvider", "FalFactory", "FalSettings", "OPENAPI_URL"]
