"""The ``replicate`` provider: models on Replicate through the official ``replicate`` client (<2).

Model ids are ``replicate:<owner>/<name>`` or ``replicate:<owner>/<name>:<64-hex version>``.

Specs
    Curated models (:data:`~imagen_nb.providers.replicate.spec.CURATED`) use their
    hand-written spec, with diffusers' parameter names; ordering one sends no request. Any
    other model's spec is built from its version's ``openapi_schema`` (fetched once per
    provider, and kept across sessions in the Studio's SpecCache), with the common inputs
    renamed to diffusers' names too. A property's ``x-replicate-name`` says what it is called
    on Replicate (``num_images_per_prompt`` → ``num_outputs``); the actual parameters of a
    generation use Replicate's names, as sent. A model with a ``seed`` input gets a random one
    when none is given, so every product records the seed that reproduces it.

Which version runs
    * ``owner/name:version``: that version; its ``openapi_schema`` is the spec.
    * A curated official model (FLUX, MiniMax…): the model's own predictions endpoint,
      ``POST /v1/models/<owner>/<name>/predictions``. Official models are run that way on
      Replicate and always use the model's current deployment.
    * A curated community model (SDXL, MusicGen…): its latest version, looked up once per
      provider (``models.get(owner/name).latest_version``) when it first runs.
    * Any other ``owner/name``: the latest version at the time its spec is fetched. The version
      id is kept in the spec (``x-replicate``), so the spec validated against and the version
      that runs agree until the spec is fetched again (``spec_ttl_days``).
    Every generation records the version it ran in its returned parameters.

File inputs
    An input with ``format: uri`` takes an http(s) URL or a data: URI (sent as is), or the path
    of a local file (checked when the order is placed). Files up to ``data_uri_max_bytes``
    (768 KiB, so the data URI stays under the 1 MB up to which Replicate's docs recommend
    data URIs) go inline; larger ones are uploaded with the client's files API
    (``POST /v1/files``, up to 100 MB) and sent as the upload's URL. The actual parameters
    record the local path, never the data URI; the returned ones say how each file was sent.

Retries
    Our :class:`~imagen_nb.providers.remote.RetryPolicy` alone decides. The client wraps its
    transport in a ``RetryTransport`` that silently retries GETs up to 10 times on 429/503/504
    (sleeping up to 60 s each): we mount our own transport for every URL, which bypasses it.
    That transport also fills in the timeouts the client leaves unset (``predictions.create``
    and ``files.create`` pass ``timeout=None``), so no request can wait forever.

Settings (``Studio(providers={"replicate": {...}})``): the fields of :class:`ReplicateSettings`
(``base_url``, ``data_uri_max_bytes``) and of :class:`~imagen_nb.providers.remote.RemoteSettings`
(``timeout``, ``retries``, ``poll_interval``, ``request_timeout``…).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Sequence, TypeVar

from ...core.errors import ProviderError
from ...core.records import ModelInfo
from ..base import Factory, ProviderContext
from ..remote import ApiRecorder, RemoteProvider, RemoteSettings, RetryPolicy, call_with_retries
from ..settings import non_negative_int, setting, text
from .run import ReplicateFactory
from .spec import CURATED, model_from_openapi, parse_name
from .transport import NotFound, bounded_transport, translate_error

__all__ = ["ReplicateProvider", "ReplicateFactory", "ReplicateSettings"]

T = TypeVar("T")

DEFAULT_BASE_URL = "https://api.replicate.com"
DATA_URI_MAX_BYTES = 768 * 1024


@dataclass(frozen=True)
class ReplicateSettings(RemoteSettings):
    """Settings of the ``replicate`` provider."""

    provider: ClassVar[str] = "replicate"

    base_url: str | None = setting(None, "API root (default: REPLICATE_BASE_URL, else https://api.replicate.com).",
                                   text)
    data_uri_max_bytes: int = setting(DATA_URI_MAX_BYTES, "Local files up to this size are sent inline as data"
                                      " URIs; larger ones are uploaded.", non_negative_int)


class ReplicateProvider(RemoteProvider[ReplicateSettings]):
    """Provider ``replicate``: curated models with hand-written specs, any other model by id.

    See the module docstring for settings, version resolution, file inputs and retries.
    """

    name = "replicate"
    curated = CURATED
    Settings = ReplicateSettings

    def __init__(self, context: ProviderContext):
        super().__init__(context)
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        self._transports: list[Any] = []
        self._downloader: Any = None
        self._fetched: dict[str, ModelInfo] = {}
        self._latest: dict[str, str] = {}
        self._seen = threading.local()  # the last HTTP response of this thread (for status and headers)

    # ---- settings ----------------------------------------------------------------------------
    def health_url(self) -> str:
        """The API root (see :attr:`base_url`)."""
        return self.base_url

    @property
    def base_url(self) -> str:
        """API root: setting ``base_url``, else ``REPLICATE_BASE_URL``, else https://api.replicate.com."""
        url = self.settings.base_url or os.environ.get("REPLICATE_BASE_URL") or DEFAULT_BASE_URL
        return str(url).rstrip("/")

    @property
    def data_uri_max_bytes(self) -> int:
        """Local files up to this size are sent as data URIs; larger ones are uploaded."""
        return self.settings.data_uri_max_bytes

    # ---- HTTP plumbing -----------------------------------------------------------------------
    def _timeout(self):
        import httpx

        return httpx.Timeout(self.request_timeout, connect=min(self.request_timeout, 10.0))

    def _remember(self, response) -> None:
        self._seen.response = response

    def last_response(self):
        """The last HTTP response this thread received from the client or the downloader."""
        return getattr(self._seen, "response", None)

    def client(self, key: str):
        """The ``replicate.Client`` for ``key`` (one per key, shared by the workers)."""
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                try:
                    import replicate
                except ImportError as exc:
                    raise ProviderError("the replicate provider needs the replicate client: "
                                        "pip install 'imagen-nb[replicate]'") from exc
                transport = bounded_transport(self._timeout())
                self._transports.append(transport)
                # mounts= routes every URL to our transport instead of the client's RetryTransport.
                client = replicate.Client(api_token=key, base_url=self.base_url, timeout=self._timeout(),
                                          mounts={"all://": transport},
                                          event_hooks={"response": [self._remember]})
                self._clients = {key: client}  # a changed key replaces the client of the old one
            return client

    def downloader(self):
        """An ``httpx.Client`` for output files: no Authorization header goes to the file hosts."""
        import httpx

        with self._lock:
            if self._downloader is None:
                self._downloader = httpx.Client(timeout=self._timeout(), follow_redirects=True,
                                                transport=bounded_transport(self._timeout()),
                                                event_hooks={"response": [self._remember]})
            return self._downloader

    def call(self, fn: Callable[[], T], *, method: str, path: str, recorder: ApiRecorder | None = None,
             policy: RetryPolicy | None = None, cancelled: Callable[[], bool] = lambda: False,
             quiet: Callable[[T], bool] | None = None, request_id: str | None = None,
             hidden: Sequence[str | None] = ()) -> T:
        """Run one API call under our retry policy, translating errors and recording each attempt.

        Args:
            fn: makes the call with the client.
            method, path: what it is, for the ApiCall record and messages (``path`` may be a full URL).
            quiet: given the result, True when a successful attempt need not be recorded (repeated polls).
        """
        endpoint = path if "://" in path else self.base_url + path
        what = f"{method} {path.split('?')[0]}"

        def attempt(n: int) -> T:
            self._seen.response = None
            started = time.monotonic()
            try:
                value = fn()
            except Exception as exc:  # every failure becomes one of our errors, without the key
                err = self.translate(exc, what, hidden)
                if recorder is not None:
                    recorder.record(method, endpoint, self._status(), started, attempt=n, error=str(err),
                                    request_id=request_id)
                raise err from None
            if recorder is not None and (n > 1 or quiet is None or not quiet(value)):
                recorder.record(method, endpoint, self._status(), started, attempt=n,
                                request_id=request_id or getattr(value, "id", None))
            return value

        return call_with_retries(attempt, policy=policy or self.retry_policy, cancelled=cancelled)

    def _status(self) -> int | None:
        response = self.last_response()
        return None if response is None else response.status_code

    def translate(self, exc: BaseException, what: str, hidden: Sequence[str | None] = ()) -> BaseException:
        """Our error for a failure of the client (see :func:`.transport.translate_error`)."""
        return translate_error(exc, what, response=self.last_response(), request_timeout=self.request_timeout,
                               hidden=hidden)

    # ---- models ------------------------------------------------------------------------------
    def model(self, name: str) -> ModelInfo:
        """A curated model (its hand-written spec, no request), else the fetched spec (once per provider)."""
        for info in self.curated:
            if info.name == name:
                return info
        with self._lock:
            hit = self._fetched.get(name)
        if hit is not None:
            return hit
        info = super().model(name)
        with self._lock:
            self._fetched[name] = info
        return info

    def fetch_model(self, name: str) -> ModelInfo:
        """The spec of ``owner/name[:version]`` from the version's ``openapi_schema``.

        Raises UnknownModelError for a malformed id or one Replicate does not know (404),
        MissingKey without a key, ProviderError when the service cannot answer.
        """
        owner, model_name, version = parse_name(name)
        key = self.keys.require(self.name)
        client = self.client(key)
        ref = f"{owner}/{model_name}"
        try:
            if version:
                from replicate.version import Versions

                found = self.call(lambda: Versions(client, (owner, model_name)).get(version), method="GET",
                                  path=f"/v1/models/{ref}/versions/{version}", hidden=(key,))
                return model_from_openapi(found.openapi_schema, name=name, model=ref, version=version)
            remote = self.call(lambda: client.models.get(ref), method="GET", path=f"/v1/models/{ref}",
                               hidden=(key,))
        except NotFound as exc:
            raise self.unknown(name, str(exc)) from None
        latest = remote.latest_version
        if latest is None or not latest.openapi_schema:
            raise self.unknown(name, "it has no published version with an input schema; "
                                     "pin one as replicate:<owner>/<name>:<version>")
        return model_from_openapi(latest.openapi_schema, name=name, model=ref, version=latest.id,
                                  description=remote.description or "")

    def latest_version(self, ref: str, lookup: Callable[[], Any]) -> str:
        """The latest version id of ``owner/name``, fetched with ``lookup()`` (a Model) once per provider."""
        with self._lock:
            known = self._latest.get(ref)
        if known:
            return known
        remote = lookup()
        if remote.latest_version is None:
            raise ProviderError(f"Replicate model {ref} has no published version; pin one: "
                                f"replicate:{ref}:<version>")
        with self._lock:
            self._latest[ref] = remote.latest_version.id
        return remote.latest_version.id

    def factory(self, model: ModelInfo) -> Factory:
        """The factory that runs ``model`` on Replicate."""
        return ReplicateFactory(model, self)

    def close(self) -> None:
        """Close the HTTP connection pools."""
        with self._lock:
            transports, self._transports, self._clients = self._transports, [], {}
            downloader, self._downloader = self._downloader, None
        for transport in transports:
            transport.close()
        if downloader is not None:
            downloader.close()

