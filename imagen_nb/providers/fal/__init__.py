"""The ``fal`` provider: fal.ai's queue through the official ``fal-client``.

``provider`` (the provider, its settings and factory), ``queue`` (one generation: upload, submit,
poll, fetch, download), ``transport`` (how fal-client's HTTP is governed) and ``spec`` (curated
specs and the OpenAPI conversion).
"""

from .provider import OPENAPI_URL, FalFactory, FalProvider, FalSettings

__all__ = ["FalProvider", "FalFactory", "FalSettings", "OPENAPI_URL"]
