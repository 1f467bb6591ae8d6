"""The ``civitai`` provider: generation on civitai's orchestrator, and the site API for models and files.

Generation
    A model id is ``civitai:<checkpoint AIR>``; LoRAs go in ``loras`` by AIR with weights (see
    :mod:`.spec`). Each generation is one workflow (see :mod:`.run`).

The site API (used by ``studio.add_model``, ``studio.identify`` and ``studio.civitai.search``)
    :meth:`CivitaiProvider.site` calls ``<site_url>/api/v1/…``: ``models`` (search),
    ``models/<id>``, ``model-versions/<id>``, ``model-versions/by-hash/<sha256>``;
    :meth:`CivitaiProvider.download` fetches one file (:mod:`.download`).

Why REST over httpx and not the official SDK ``civitai-py`` (0.1.10, the latest release):
importing it raises when ``CIVITAI_API_TOKEN`` is unset (it builds a client at import time),
it reads the token from that variable only (not from ``imagen-nb keys``), its base URL is
fixed to orchestration.civitai.com (no loopback server, no proxy), it speaks the v1 ``jobs``
API (``/v1/consumer/jobs``) where civitai documents the v2 ``workflows`` API today, every call
runs ``asyncio.run`` on a new client without our timeouts (inside Jupyter's running loop it
returns a Future instead of the answer), and its errors keep only the status code, dropping
civitai's message and ``Retry-After``. httpx is a dependency already.

Settings (``Studio(providers={"civitai": {...}})``): :class:`CivitaiSettings` and the fields of
:class:`~imagen_nb.providers.remote.RemoteSettings`.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping

from ...core.errors import ProviderError
from ...core.records import ModelInfo
from ..base import Factory, ProviderContext
from ..remote import RemoteProvider, RemoteSettings, call_with_retries
from ..settings import non_negative_number, positive_number, setting, text
from .api import NotFound, request_json
from .download import Downloaded, Progress, fetch_file
from .run import CivitaiFactory
from .spec import CURATED, model_info

__all__ = ["CivitaiProvider", "CivitaiSettings", "NotFound"]

DEFAULT_SITE_URL = "https://civitai.com"
DEFAULT_ORCHESTRATION_URL = "https://orchestration.civitai.com"


@dataclass(frozen=True)
class CivitaiSettings(RemoteSettings):
    """Settings of the ``civitai`` provider."""

    provider: ClassVar[str] = "civitai"

    site_url: str | None = setting(None, "Site API root (default: CIVITAI_SITE_URL, else https://civitai.com).", text)
    orchestration_url: str | None = setting(
        None, "Generator API root (default: CIVITAI_ORCHESTRATION_URL, else https://orchestration.civitai.com).", text)
    download_timeout: float = setting(60.0, "Most seconds a model download may wait for its next bytes.",
                                      positive_number)
    hash_cache_days: float = setting(30.0, "`studio.identify()` asks civitai about a file again after this many"
                                           " days (files civitai did not know: after a day).", non_negative_number)


class CivitaiProvider(RemoteProvider[CivitaiSettings]):
    """Provider ``civitai``: checkpoints by AIR on civitai's generator, plus the site API (see the module)."""

    name = "civitai"
    curated = CURATED
    Settings = CivitaiSettings

    def __init__(self, context: ProviderContext):
        super().__init__(context)
        self._lock = threading.Lock()
        self._http: Any = None
        self._downloader: Any = None

    # ---- settings ----------------------------------------------------------------------------
    @property
    def site_url(self) -> str:
        """Site API root: setting ``site_url``, else ``CIVITAI_SITE_URL``, else https://civitai.com."""
        return str(self.settings.site_url or os.environ.get("CIVITAI_SITE_URL") or DEFAULT_SITE_URL).rstrip("/")

    @property
    def orchestration_url(self) -> str:
        """Generator API root: setting ``orchestration_url``, else ``CIVITAI_ORCHESTRATION_URL``, else civitai's."""
        url = self.settings.orchestration_url or os.environ.get("CIVITAI_ORCHESTRATION_URL") or DEFAULT_ORCHESTRATION_URL
        return str(url).rstrip("/")

    # ---- HTTP --------------------------------------------------------------------------------
    def _timeout(self):
        import httpx

        return httpx.Timeout(self.request_timeout, connect=min(self.request_timeout, 10.0))

    def http(self):
        """The ``httpx.Client`` for API calls (keys go per request, never in the client)."""
        import httpx

        with self._lock:
            if self._http is None:
                self._http = httpx.Client(timeout=self._timeout(), follow_redirects=False,
                                          transport=httpx.HTTPTransport(retries=0))
            return self._http

    def downloader(self):
        """An ``httpx.Client`` for files (redirects followed; no Authorization unless a call adds one)."""
        import httpx

        with self._lock:
            if self._downloader is None:
                self._downloader = httpx.Client(timeout=self._timeout(), follow_redirects=True,
                                                transport=httpx.HTTPTransport(retries=0))
            return self._downloader

    def site(self, path: str, params: Mapping[str, Any] | None = None, *, key: str | None = None) -> Any:
        """GET ``<site_url>/api/v1/<path>`` as JSON, with the key when one is set (retried, errors translated)."""
        key = key if key is not None else self.keys.get(self.name)
        return request_json(self.http(), "GET", f"{self.site_url}/api/v1/{path}", what=f"GET /api/v1/{path}",
                            key=key, params=params, policy=self.retry_policy, timeout=self.request_timeout)

    def version(self, version_id: int) -> dict[str, Any]:
        """``/model-versions/<id>``; UnknownModelError when civitai has no such version."""
        found = self._expect(lambda: self.site(f"model-versions/{int(version_id)}"), f"version {version_id}")
        return found

    def model_record(self, model_id: int) -> dict[str, Any]:
        """``/models/<id>`` (name, type, licence, versions newest first)."""
        return self._expect(lambda: self.site(f"models/{int(model_id)}"), f"model {model_id}")

    def by_hash(self, sha256: str) -> dict[str, Any] | None:
        """The version holding a file with this SHA-256, or None when civitai knows no such file."""
        try:
            found = self.site(f"model-versions/by-hash/{sha256.upper()}")
        except NotFound:
            return None
        if not isinstance(found, Mapping):
            raise ProviderError(f"civitai returned an unexpected answer for a hash lookup: {str(found)[:120]!r}")
        return dict(found)

    def _expect(self, fetch: Callable[[], Any], what: str) -> dict[str, Any]:
        from ...core.errors import UnknownModelError

        try:
            found = fetch()
        except NotFound as exc:
            raise UnknownModelError(f"civitai has no {what} ({exc}); check the id, or whether it was taken down"
                                    ) from None
        if not isinstance(found, Mapping) or "id" not in found:
            raise ProviderError(f"civitai returned an unexpected answer for {what}: {str(found)[:120]!r}")
        return dict(found)

    def download(self, url: str, dest: Path, *, sha256: str | None, size: int | None = None,
                 fallback_url: str | None = None, progress: Progress | None = None,
                 cancelled: Callable[[], bool] = lambda: False) -> Downloaded:
        """Download one model file to ``dest`` with the key, resuming and retrying (see :mod:`.download`).

        ``cancelled`` is asked as each block arrives, every 50 ms while the storage host sends
        nothing, and between tries: when it turns true the download stops at once with
        ``GenerationCancelled`` and its ``.part`` file is kept for a resume.
        """
        key = self.keys.require(self.name)
        return call_with_retries(
            lambda attempt: fetch_file(self.downloader(), url, dest, token=key, sha256=sha256, size=size,
                                       fallback_url=fallback_url, progress=progress,
                                       timeout=self.settings.download_timeout, cancelled=cancelled),
            policy=self.retry_policy, cancelled=cancelled)

    # ---- models ------------------------------------------------------------------------------
    def model(self, name: str) -> ModelInfo:
        """The model of a checkpoint AIR (no request: every checkpoint takes the same parameters)."""
        for info in self.curated:
            if info.name == name:
                return info
        from ...core.errors import UnknownModelError, ValidationError

        try:
            return model_info(name)
        except ValidationError as exc:
            raise UnknownModelError(f"civitai has no model {name!r}: {exc.message}") from None

    def fetch_model(self, name: str) -> ModelInfo:
        """Same as :meth:`model`: the spec is civitai's text-to-image step, the same for every checkpoint."""
        return self.model(name)

    def factory(self, model: ModelInfo) -> Factory:
        """The factory that runs ``model`` on civitai's generator."""
        return CivitaiFactory(model, self)

    def close(self) -> None:
        """Close the HTTP connection pools."""
        with self._lock:
            clients, self._http, self._downloader = (self._http, self._downloader), None, None
        for client in clients:
            if client is not None:
                client.close()
