"""Validation as an explicit, ordered list of named checks (diffusers' ``check_inputs`` is the model).

A factory lists its checks (:meth:`~imagen_nb.providers.base.Factory.checks`); each takes the
parameter set as given and the set built so far, and returns the set to pass on. Each check says
how often it must run over an order:

``order``
    once per order: it reads no parameter (the provider's key is set).
``value``
    its verdict on a parameter depends on that parameter's value alone (and on which
    parameters are given, which is the same for every generation of an order): an order of 100
    prompts × 100 seeds checks each distinct value once, not 10,000 combinations.
``row``
    it ties several values together (steps × strength): it runs on every generation.

:func:`validate_order` is that cache; errors of an order with several generations end with
``(in generation i of n)`` (:func:`in_generation`), the one place that wording is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal, Mapping, Sequence

from ..core.errors import ValidationError
from .spec import validate_params

#: A check: (parameters as given, parameters built so far) → the parameters to pass on.
CheckFn = Callable[[Mapping[str, Any], dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Check:
    """One named validation step of a factory.

    Args:
        name: what it checks, for readers and for error reports (``spec``, ``lora-files``…).
        run: ``run(given, params) -> params``; raises :class:`ValidationError` naming the parameter.
        each: how often it runs over an order: ``order``, ``value`` or ``row`` (see the module).
    """

    name: str
    run: CheckFn
    each: Literal["order", "value", "row"] = "value"


def spec_check(spec: Mapping[str, Any], model_id: str) -> Check:
    """The JSON Schema check of a model's spec: types, ranges, enums; defaults filled."""
    return Check("spec", lambda given, params: validate_params(spec, params, model_id=model_id))


def run_checks(checks: Sequence[Check], params: Mapping[str, Any], *,
               scopes: tuple[str, ...] = ("order", "value", "row")) -> dict[str, Any]:
    """Run ``checks`` in order on one parameter set (those whose ``each`` is in ``scopes``)."""
    if not isinstance(params, Mapping):  # the spec check words this error
        out: Any = params
    else:
        out = dict(params)
    for check in checks:
        if check.each in scopes:
            out = check.run(params, out)
    return out


def in_generation(exc: ValidationError, index: int, total: int) -> ValidationError:
    """``exc`` located in an order: ``… (in generation i of n)``; unchanged when the order has one."""
    if total == 1:
        return exc
    return ValidationError(exc.param, f"{exc.message} (in generation {index + 1} of {total})")


def validate_order(checks: Sequence[Check], param_sets: Sequence[Mapping[str, Any]],
                   spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Run ``checks`` over the generation parameter sets of one order; errors say which generation.

    ``order`` checks run once. When the spec's properties constrain only themselves (no ``allOf``,
    ``if``, ``dependentRequired``…), every set has the same keys and there are at least 8 sets,
    ``value`` checks run once per distinct value of each parameter and ``row`` checks on every
    assembled set; otherwise every set is checked in full.
    """
    total = len(param_sets)
    if not total:
        return []
    located(lambda: run_checks(checks, param_sets[0], scopes=("order",)), 0, total)
    each = ("value", "row")
    keys = tuple(param_sets[0]) if isinstance(param_sets[0], Mapping) else ()
    if total < 8 or not independent(spec) or any(not isinstance(p, Mapping) or tuple(p) != keys for p in param_sets):
        return [located(lambda p=p: run_checks(checks, p, scopes=each), i, total) for i, p in enumerate(param_sets)]
    base = param_sets[0]
    first = located(lambda: run_checks(checks, base, scopes=("value",)), 0, total)
    rows = [c for c in checks if c.each == "row"]
    absent = object()  # not checked yet
    known: dict[str, dict[Any, Any]] = {k: {} for k in keys}
    out: list[dict[str, Any]] = []
    for i, p in enumerate(param_sets):
        row = dict(first)
        for k in keys:
            value = p[k]
            marker = _marker(value)
            seen = known[k]
            checked = seen.get(marker, absent) if marker is not None else absent
            if checked is absent or marker is None:
                result = located(lambda: run_checks(checks, {**base, k: value}, scopes=("value",)), i, total)
                checked = result[k] if k in result else _DROPPED
                if marker is not None:
                    seen[marker] = checked
            if checked is _DROPPED:
                row.pop(k, None)
            else:
                row[k] = checked
        if rows:
            row = located(lambda row=row, p=p: _rows(rows, p, row), i, total)
        out.append(row)
    return out


#: Marks a parameter that a value check removed from the set.
_DROPPED = object()


def _rows(checks: Sequence[Check], given: Mapping[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    for check in checks:
        row = check.run(given, row)
    return row


def located(fn: Callable[[], dict[str, Any]], index: int, total: int) -> dict[str, Any]:
    """``fn()``, with a ValidationError it raises located by :func:`in_generation`."""
    try:
        return fn()
    except ValidationError as exc:
        if total == 1:
            raise
        raise in_generation(exc, index, total) from exc


_CROSS_PROPERTY = {"allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentRequired",
                   "dependentSchemas", "dependencies", "minProperties", "maxProperties",
                   "patternProperties", "propertyNames", "unevaluatedProperties", "$ref"}


def independent(spec: Mapping[str, Any]) -> bool:
    """True when each property of ``spec`` is constrained only by its own subschema."""
    return not (_CROSS_PROPERTY & set(spec))


def _marker(value: Any):
    """A hashable stand-in for a value that tells 1, 1.0 and True apart; None when unhashable."""
    try:
        hash(value)
    except TypeError:
        return None
    return (type(value), value)
