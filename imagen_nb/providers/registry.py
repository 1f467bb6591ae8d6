"""Provider discovery: the entry point group ``imagen_nb.providers``, plus explicit registration."""

from __future__ import annotations

import logging
from importlib.metadata import entry_points
from typing import Mapping

from ..core.errors import UnknownModelError, did_you_mean
from .base import Provider, ProviderContext

GROUP = "imagen_nb.providers"

log = logging.getLogger(__name__)

_extra: dict[str, type[Provider]] = {}


def register(cls: type[Provider]) -> type[Provider]:
    """Register a provider class in this process (plugins use the entry point instead)."""
    _extra[cls.name] = cls
    return cls


def unregister(name: str) -> None:
    """Forget a provider registered with :func:`register`."""
    _extra.pop(name, None)


def provider_classes() -> dict[str, type[Provider]]:
    """Every provider class known: entry points first, then explicit registrations."""
    found: dict[str, type[Provider]] = {}
    for ep in entry_points(group=GROUP):
        try:
            found[ep.name] = ep.load()
        except Exception as exc:  # a broken plugin must not take the studio down with it
            log.warning("provider plugin %r (%s) could not be loaded: %s: %s",
                        ep.name, ep.value, type(exc).__name__, exc)
    if "diffusers" not in found:
        # Running from a source tree that was never pip-installed: the built-ins still work.
        from .diffusers import DiffusersProvider
        from .instant import InstantProvider

        found["diffusers"] = DiffusersProvider
        found.setdefault("instant", InstantProvider)
    found.update(_extra)
    return found


def load_providers(context: ProviderContext, settings: Mapping[str, Mapping] | None = None) -> dict[str, Provider]:
    """Instantiate every known provider with its settings."""
    settings = settings or {}
    out: dict[str, Provider] = {}
    for name, cls in provider_classes().items():
        ctx = ProviderContext(home=context.home, settings=dict(settings.get(name, {})),
                              spec_cache=context.spec_cache)
        out[name] = cls(ctx)
    return out


def split_model_id(model_id: str, providers: Mapping[str, Provider]) -> tuple[Provider, str]:
    """``"diffusers:tiny"`` → (the diffusers provider, ``"tiny"``), with a clear error otherwise."""
    if not isinstance(model_id, str) or ":" not in model_id:
        raise UnknownModelError(
            f"model ids look like '<provider>:<name>' (e.g. 'diffusers:tiny'); got {model_id!r}."
            " `studio.models()` lists them."
        )
    prov, _, name = model_id.partition(":")
    if prov not in providers:
        raise UnknownModelError(
            f"no provider {prov!r}.{did_you_mean(prov, providers)} Installed: {', '.join(sorted(providers))}."
        )
    return providers[prov], name
