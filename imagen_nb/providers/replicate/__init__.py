"""The ``replicate`` provider: Replicate through the official ``replicate`` client (<2).

``provider`` (the provider, its settings, version resolution), ``run`` (one prediction: files,
create, poll, download), ``transport`` (HTTP timeouts and error translation) and ``spec``
(curated specs and the OpenAPI conversion).
"""

from .provider import ReplicateFactory, ReplicateProvider, ReplicateSettings

__all__ = ["ReplicateProvider", "ReplicateFactory", "ReplicateSettings"]
