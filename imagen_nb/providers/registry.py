"""Provider discovery: the entry point group ``imagen_nb.providers``, plus explicit registration."""

from __future__ import annotations

import logging
import os
from importlib.metadata import entry_points
from typing import Mapping

from ..core.errors import SettingsError, UnknownModelError, did_you_mean
from .base import Provider, ProviderContext
from .settings import ProviderSettings, check_provider_names, settings_doc

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
    if "civitai" not in found and "diffusers" in found and found["diffusers"].__module__.startswith("imagen_nb."):
        # An install made before civitai was built in (an editable install keeps the entry points
        # it was installed with until it is installed again): the built-in still works.
        from .civitai import CivitaiProvider

        found["civitai"] = CivitaiProvider
    if "transformers" not in found:
        # Built-in since issue 15: known even where the installed metadata predates it.
        from .transformers import TransformersProvider

        found["transformers"] = TransformersProvider
    if "gemini" not in found:
        from .gemini import GeminiProvider

        found["gemini"] = GeminiProvider
    found.update(_extra)
    return found


#: Environment variable naming the providers to load (comma-separated); unset: every one known.
ONLY_ENV = "IMAGEN_NB_PROVIDERS"


def enabled(known: Mapping[str, type[Provider]], only: str | None = None) -> list[str]:
    """The names of the providers to load: ``only`` (or ``$IMAGEN_NB_PROVIDERS``) when set, else all.

    A name in the list that no provider has is refused with a did-you-mean.
    """
    wanted = os.environ.get(ONLY_ENV) if only is None else only
    if not wanted or not wanted.strip():
        return list(known)
    names = [n.strip() for n in wanted.split(",") if n.strip()]
    for name in names:
        if name not in known:
            raise SettingsError(f"{ONLY_ENV} names no provider {name!r}.{did_you_mean(name, known)}"
                                f" Providers: {', '.join(sorted(known))}.")
    return names


def load_providers(context: ProviderContext, settings: Mapping[str, Mapping] | None = None) -> dict[str, Provider]:
    """Instantiate the enabled providers (see :func:`enabled`) with their settings.

    Settings are checked first: settings for a provider that does not exist, an unknown setting or a
    bad value raise :class:`~.settings.SettingsError` with a did-you-mean (the user's mistake stops
    the studio from opening). A provider whose constructor fails otherwise is skipped with a
    warning naming it, so one broken plugin cannot stop ``Studio()``.
    """
    settings = settings or {}
    classes = provider_classes()
    check_provider_names(settings, classes)
    typed = {name: getattr(cls, "Settings", ProviderSettings).parse(settings.get(name), name)
             for name, cls in classes.items()}
    out: dict[str, Provider] = {}
    for name in enabled(classes):
        cls = classes[name]
        ctx = ProviderContext(home=context.home, settings=typed[name], spec_cache=context.spec_cache)
        try:
            out[name] = cls(ctx)
        except SettingsError:
            raise
        except Exception as exc:  # a broken plugin must not take the studio down with it
            log.warning("provider %r (%s.%s) failed to start and is skipped: %s: %s", name,
                        cls.__module__, cls.__qualname__, type(exc).__name__, exc)
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


def builtin_settings_doc() -> str:
    """docs/provider-settings.md: the settings tables of the built-in providers, from their classes."""
    from .civitai import CivitaiProvider
    from .diffusers import DiffusersProvider
    from .fal import FalProvider
    from .gemini import GeminiProvider
    from .instant import InstantProvider
    from .replicate import ReplicateProvider
    from .transformers import TransformersProvider

    return settings_doc({cls.name: cls for cls in (CivitaiProvider, DiffusersProvider, FalProvider, GeminiProvider,
                                                   InstantProvider, ReplicateProvider, TransformersProvider)})
