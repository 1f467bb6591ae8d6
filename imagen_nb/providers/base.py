"""The Provider / Factory interfaces every provider implements, built-in or third-party.

A provider offers models (:class:`~imagen_nb.core.records.ModelInfo`) and makes a
:class:`Factory` for each. The executor hands a factory a batch of validated requests and a
:class:`RunContext`; the factory returns one result (or exception) per request. Providers never
touch the catalog or the widgets: they see bytes, parameter sets and the run context only.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Hashable, Literal, Mapping, Protocol, Sequence

from ..core.errors import UnknownModelError, did_you_mean
from ..core.records import Event, GenerationRequest, GenerationResult, ModelInfo


@dataclass(frozen=True)
class ProviderContext:
    """What a provider is given when the Studio creates it.

    Args:
        home: the studio's home folder; a provider may keep caches under ``home / "providers" / name``.
        settings: this provider's settings from the studio (``device``, ``dtype``, keys…).
    """

    home: Path
    settings: Mapping[str, Any] = field(default_factory=dict)
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
    """Runs one model: validates parameter sets and turns requests into results."""

    #: True when :meth:`validate` judges each parameter on its own (then large orders check each
    #: distinct value once); None: only when ``validate`` is not overridden.
    per_value_validation: bool | None = None

    def __init__(self, model: ModelInfo):
        self.model = model

    def validate(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Check a generation parameter set against the model's spec; return it with defaults filled.

        Raises :class:`~imagen_nb.core.errors.ValidationError` naming the parameter and what is allowed.
        """
        from .spec import validate_params

        return validate_params(self.model.spec, params, model_id=self.model.id)

    def validate_many(self, param_sets: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Validate the generation parameter sets of one order; errors say which generation.

        When the spec's properties constrain only themselves (no ``allOf``, ``if``,
        ``dependentRequired``…) and :meth:`validate` is not overridden, each distinct value of
        each parameter is checked once: an order of 100 prompts × 100 seeds costs 200 checks,
        not 10,000. Otherwise every set is validated in full.
        """
        from ..core.errors import ValidationError

        total = len(param_sets)

        def located(exc: ValidationError, index: int) -> ValidationError:
            if total == 1:
                return exc
            return ValidationError(exc.param, f"{exc.message} (in generation {index + 1} of {total})")

        per_value = self.per_value_validation
        if per_value is None:
            per_value = type(self).validate is Factory.validate
        if total < 8 or not per_value or not _independent(self.model.spec):
            return [self._validate_at(p, i, located) for i, p in enumerate(param_sets)]
        keys = tuple(param_sets[0])
        if any(tuple(p) != keys for p in param_sets):
            return [self._validate_at(p, i, located) for i, p in enumerate(param_sets)]
        base = param_sets[0]
        first = self._validate_at(base, 0, located)
        coerced: dict[str, dict[Any, Any]] = {k: {} for k in keys}
        out: list[dict[str, Any]] = []
        for i, p in enumerate(param_sets):
            row = dict(first)
            for k in keys:
                value = p[k]
                marker = _marker(value)
                if marker is None:  # unhashable: check this one on its own
                    row[k] = self._validate_at({**base, k: value}, i, located)[k]
                    continue
                known = coerced[k]
                if marker not in known:
                    known[marker] = self._validate_at({**base, k: value}, i, located)[k]
                row[k] = known[marker]
            out.append(row)
        return out

    def _validate_at(self, params, index, located):
        from ..core.errors import ValidationError

        try:
            return self.validate(params)
        except ValidationError as exc:
            raise located(exc, index) from exc

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


_CROSS_PROPERTY = {"allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentRequired",
                   "dependentSchemas", "dependencies", "minProperties", "maxProperties",
                   "patternProperties", "propertyNames", "unevaluatedProperties", "$ref"}


def _independent(spec: Mapping[str, Any]) -> bool:
    """True when each property of ``spec`` is constrained only by its own subschema."""
    return not (_CROSS_PROPERTY & set(spec))


def _marker(value: Any):
    """A hashable stand-in for a value that tells 1, 1.0 and True apart; None when unhashable."""
    try:
        hash(value)
    except TypeError:
        return None
    return (type(value), value)


class Provider(abc.ABC):
    """A service that runs models: local diffusers, fal, replicate…

    Subclasses set :attr:`name` and register under the entry point group
    ``imagen_nb.providers`` (the built-ins do the same).
    """

    name: ClassVar[str]
    #: ``local`` providers get one worker per device; ``remote`` ones ``concurrency`` workers.
    execution: ClassVar[Literal["local", "remote"]] = "remote"

    def __init__(self, context: ProviderContext):
        self.context = context

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
        return int(self.context.settings.get("concurrency", 1 if self.execution == "local" else 4))

    def close(self) -> None:
        """Free what the provider holds (pipelines, sessions). Called by ``Studio.close``."""


ProviderFactory = Callable[[ProviderContext], Provider]
