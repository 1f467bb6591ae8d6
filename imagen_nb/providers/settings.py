"""Typed provider settings: one frozen dataclass per provider, unknown keys refused with a did-you-mean.

A provider declares ``Settings``, a subclass of :class:`ProviderSettings` whose fields are its
settings; each field is made with :func:`setting`, which holds the default, a one-line doc (the
README's settings tables are tested against it) and the check that turns a value given by the
user into the typed one. ``Studio(providers={"diffusers": {"memory_budjet": "6GB"}})`` then fails
at open with ``diffusers has no setting 'memory_budjet'; did you mean 'memory_budget'?``.

Plain dataclasses, not pydantic: the settings are a handful of scalars with bespoke forms
(``"6GB"``, ``"80%"``, ``"auto" | True | False``) whose error messages we want to word
ourselves, and pydantic is not one of our direct dependencies.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from typing import Any, Callable, ClassVar, Mapping, TypeVar

from ..core.errors import SettingsError, did_you_mean

S = TypeVar("S", bound="ProviderSettings")


def setting(default: Any, doc: str, check: Callable[[Any], Any] | None = None) -> Any:
    """A settings field: its ``default``, a one-line ``doc`` and the ``check`` that converts a given value.

    ``check`` raises ValueError or TypeError with what is allowed; None passes values through.
    ``None`` given for a setting means its default.
    """
    return field(default=default, metadata={"doc": doc, "check": check})


# ---- checks used by several providers ------------------------------------------------------


def positive_int(value: Any) -> int:
    """An int ≥ 1 (a bool is refused)."""
    return _count(value, 1)


def non_negative_int(value: Any) -> int:
    """An int ≥ 0 (a bool is refused)."""
    return _count(value, 0)


def _count(value: Any, least: int) -> int:
    problem = f"must be a whole number ≥ {least}"
    if isinstance(value, bool):
        raise ValueError(problem)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(problem) from None
    if number < least or number != value and not isinstance(value, str):
        raise ValueError(problem)
    return number


def positive_number(value: Any) -> float:
    """A number > 0 (a bool is refused)."""
    return _number(value, strict=True)


def non_negative_number(value: Any) -> float:
    """A number ≥ 0 (a bool is refused)."""
    return _number(value, strict=False)


def _number(value: Any, strict: bool) -> float:
    problem = "must be a number > 0" if strict else "must be a number ≥ 0"
    if isinstance(value, bool):
        raise ValueError(problem)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(problem) from None
    if not (number > 0 if strict else number >= 0):
        raise ValueError(problem)
    return number


def flag(value: Any) -> bool:
    """True or False."""
    if not isinstance(value, bool):
        raise ValueError("must be True or False")
    return value


def text(value: Any) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    return value.strip()


def auto_or_flag(value: Any) -> str | bool:
    """``"auto"``, True or False."""
    if value not in ("auto", True, False) or isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ValueError("must be 'auto', True or False")
    return value


# ---- the base class --------------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderSettings:
    """Settings every provider has; subclasses add theirs (the fields are the documentation)."""

    #: The provider's name in messages (set on each subclass).
    provider: ClassVar[str] = "provider"

    concurrency: int | None = setting(
        None, "Workers per lane (default: 1 per device for local providers, 4 for remote ones).", positive_int)

    @classmethod
    def parse(cls: type[S], values: Mapping[str, Any] | ProviderSettings | None, provider: str | None = None) -> S:
        """Typed settings from the mapping a user gave; SettingsError naming the key and the fix.

        Unknown keys are refused with a did-you-mean and the list of known ones; each value goes
        through its field's check; ``None`` keeps the default.
        """
        name = provider or cls.provider
        if isinstance(values, cls):
            return values
        if isinstance(values, ProviderSettings):
            values = dataclasses.asdict(values)
        if values is None:
            values = {}
        if not isinstance(values, Mapping):
            raise SettingsError(f"settings of provider {name!r} must be a dict of setting → value;"
                                f" got {type(values).__name__}.")
        known = {f.name: f for f in fields(cls)}
        given: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known:
                raise SettingsError(
                    f"{name} has no setting {key!r}.{did_you_mean(str(key), known)}"
                    f" Its settings: {', '.join(sorted(known))}.")
            check = known[key].metadata.get("check")
            if value is None:
                continue
            if check is not None:
                try:
                    value = check(value)
                except SettingsError:
                    raise
                except (TypeError, ValueError) as exc:
                    raise SettingsError(f"{name} setting {key} {_phrase(exc)}; got {value!r}.") from exc
            given[key] = value
        return cls(**given)

    def get(self, key: str, default: Any = None) -> Any:
        """The value of setting ``key``, or ``default`` when it is not set (None)."""
        value = getattr(self, key, None)
        return default if value is None else value

    @classmethod
    def docs(cls) -> dict[str, str]:
        """Setting name → its one-line documentation (what README's tables show)."""
        return {f.name: f.metadata.get("doc", "") for f in fields(cls)}


def _phrase(exc: BaseException) -> str:
    return (str(exc).strip() or f"is invalid ({type(exc).__name__})").rstrip(".")


def check_provider_names(settings: Mapping[str, Any], known: Mapping[str, Any] | list[str]) -> None:
    """Refuse settings for a provider that does not exist, with a did-you-mean."""
    if not isinstance(settings, Mapping):
        raise SettingsError("providers= takes a dict of provider name → its settings,"
                            " e.g. {'diffusers': {'device': 'cpu'}}.")
    for name in settings:
        if name not in known:
            raise SettingsError(
                f"no provider {name!r} to take settings.{did_you_mean(str(name), known)}"
                f" Providers: {', '.join(sorted(known))}.")


def settings_table(cls: type[ProviderSettings]) -> str:
    """A Markdown table of a settings class: setting, default, what it does (from the fields)."""
    rows = ["| setting | default | what it does |", "|---|---|---|"]
    for f in fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else None
        shown = "unset" if default is None else f"`{default!r}`"
        rows.append(f"| `{f.name}` | {shown} | {f.metadata.get('doc', '')} |")
    return "\n".join(rows)


def settings_doc(classes: Mapping[str, Any]) -> str:
    """The settings reference of the given providers (name → provider class), as docs/provider-settings.md
    holds it for the built-ins (see :func:`imagen_nb.providers.registry.builtin_settings_doc`)."""
    parts = ["# Provider settings", "",
             "Given as `Studio(providers={\"<provider>\": {...}})`. An unknown setting or provider name, or a bad",
             "value, fails when the studio opens, with a did-you-mean. `IMAGEN_NB_PROVIDERS=diffusers,fal`",
             "limits which providers load. Generated from the settings classes:",
             "`python -c 'from imagen_nb.providers.registry import builtin_settings_doc as d; print(d(), end=\"\")'"
             " > docs/provider-settings.md`.", ""]
    for name in sorted(classes):
        cls = getattr(classes[name], "Settings", ProviderSettings)
        parts += [f"## {name}", "", f"`{cls.__module__}.{cls.__qualname__}`", "", settings_table(cls), ""]
    return "\n".join(parts)

