"""The Provider / Factory interfaces every provider implements, built-in or third-party.

A provider offers models (:class:`~imagen_nb.core.records.ModelInfo`) and makes a
:class:`Factory` for each. The executor hands a factory a batch of validated requests and a
:class:`RunContext`; the factory returns one result (or exception) per request. Providers never
touch the catalog or the widgets: they see bytes, parameter sets and the run context only.
"""

from __future__ import annotations

import abc
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, Hashable, Literal, Mapping, Protocol, Sequence, TypeVar

from ..core.errors import UnknownModelError, did_you_mean
from ..core.records import Event, GenerationRequest, GenerationResult, ModelInfo
from .health import Health
from .checks import Check, located, run_checks, spec_check, validate_order
from .settings import ProviderSettings


@dataclass(frozen=True)
class ProviderContext:
    """What a provider is given when the Studio creates it.

    Args:
        home: the studio's home folder; a provider may keep caches under ``home / "providers" / name``.
        settings: this provider's settings from the studio (``device``, ``dtype``…): a mapping as
            the user gave it, replaced by the provider's typed :class:`ProviderSettings` when the
            provider is made (read them as ``provider.settings.<name>``).
    """

    home: Path
    settings: Mapping[str, Any] | ProviderSettings = field(default_factory=dict)
    #: Where remote providers keep fetched specs (a ``remote.SpecCache``; the Studio's catalog).
    spec_cache: Any = None

    def cache_dir(self, provider: str) -> Path:
        """A folder this provider may write to, created on demand."""
        path = self.home / "providers" / provider
        path.mkdir(parents=True, exist_ok=True)
        return path


class RunContext(Protocol):
    """Given to :meth:`Factory.run` by the executor."""

    def progress(self, generation_id: str, step: int, total: int) -> None:
        """Report that ``step`` of ``total`` steps of a generation are done."""

    def cancelled(self, generation_id: str) -> bool:
        """True when the user cancelled this generation; the factory should stop at once."""

    def publish(self, event: Event) -> None:
        """Publish an event (e.g. :class:`~imagen_nb.core.records.ModelLoaded`) on the bus."""


class Factory(abc.ABC):
    """Runs one model: validates parameter sets and turns requests into results.

    Validation is the ordered list of named :class:`~.checks.Check` that :meth:`checks` returns
    (the spec's JSON Schema check by default); a factory with more rules lists them there.
    """

    def __init__(self, model: ModelInfo):
        self.model = model

    def checks(self) -> list[Check]:
        """The checks :meth:`validate` runs, in order, before any work: here the spec check only."""
        return [spec_check(self.model.spec, self.model.id)]

    def validate(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Check a generation parameter set with :meth:`checks`; return it with defaults filled.

        Raises :class:`~imagen_nb.core.errors.ValidationError` naming the parameter and what is allowed.
        """
        return run_checks(self.checks(), params)

    def validate_many(self, param_sets: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Validate the generation parameter sets of one order; errors say which generation.

        Each distinct value of each parameter is checked once where the checks allow it (see
        :func:`~.checks.validate_order`). A subclass that overrides :meth:`validate` instead of
        listing checks gets every set validated in full.
        """
        if type(self).validate is not Factory.validate:
            total = len(param_sets)
            return [located(lambda p=p: self.validate(p), i, total) for i, p in enumerate(param_sets)]
        return validate_order(self.checks(), param_sets, self.model.spec)

    def batch_key(self, params: Mapping[str, Any]) -> Hashable | None:
        """Requests whose keys are equal (and not None) may be handed to :meth:`run` together."""
        return None

    @abc.abstractmethod
    def run(
        self, requests: Sequence[GenerationRequest], ctx: RunContext
    ) -> list[GenerationResult | BaseException]:
        """Run the requests; return one result, or the exception that failed it, per request.

        A factory raises :class:`~imagen_nb.core.errors.GenerationCancelled` (or returns it for
        the request) when ``ctx.cancelled(id)`` turned true while it ran.
        """


S = TypeVar("S", bound=ProviderSettings)


class Provider(abc.ABC, Generic[S]):
    """A service that runs models: local diffusers, fal, replicate…

    Subclasses set :attr:`name` and :attr:`Settings` (``class FalProvider(RemoteProvider[FalSettings])``
    types :attr:`settings` to match) and register under the entry point group
    ``imagen_nb.providers`` (the built-ins do the same).
    """

    name: ClassVar[str]
    #: ``local`` providers get one worker per device; ``remote`` ones ``concurrency`` workers.
    execution: ClassVar[Literal["local", "remote"]] = "remote"
    #: The typed settings this provider takes (its fields are the documentation).
    Settings: ClassVar[type[ProviderSettings]] = ProviderSettings

    def __init__(self, context: ProviderContext):
        settings = self.Settings.parse(context.settings, self.name)
        self.context = dataclasses.replace(context, settings=settings)

    @property
    def settings(self) -> S:
        """This provider's typed settings, an instance of :attr:`Settings` (checked when the provider was made)."""
        return self.context.settings  # type: ignore[return-value]

    @abc.abstractmethod
    def models(self) -> list[ModelInfo]:
        """The models this provider offers without being asked for a particular one."""

    def model(self, name: str) -> ModelInfo:
        """The model called ``name``; raises UnknownModelError with a suggestion when there is none."""
        known = {m.name: m for m in self.models()}
        if name in known:
            return known[name]
        raise UnknownModelError(
            f"provider {self.name!r} has no model {name!r}.{did_you_mean(name, known)}"
            f" Known: {', '.join(sorted(known)) or 'none'}."
        )

    @abc.abstractmethod
    def factory(self, model: ModelInfo) -> Factory:
        """The factory that runs ``model``; cheap to call again (cache heavy state in the provider)."""

    def loras(self, model: ModelInfo) -> list[str]:
        """Names ``model`` accepts in its ``loras`` parameter (for pickers); none by default."""
        return []

    def lane(self, model: ModelInfo) -> str:
        """Name of the executor lane that runs this model (one per device for local providers)."""
        return self.name

    @property
    def concurrency(self) -> int:
        """How many workers serve one lane of this provider."""
        return self.settings.concurrency or (1 if self.execution == "local" else 4)

    def health(self, reach: bool = False) -> Health:
        """Whether this provider can run now (see :mod:`.health`); ``reach``: also contact its endpoint.

        The default says ready with nothing checked; providers with a device or a key override it.
        """
        return Health(self.name, self.execution, True, detail="nothing to check")

    def close(self) -> None:
        """Free what the provider holds (pipelines, sessions). Called by ``Studio.close``."""

