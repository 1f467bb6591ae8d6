"""Parameter set specs: JSON Schema (draft 2020-12) validation with messages that teach.

A model declares its inputs as a JSON Schema object (:attr:`ModelInfo.spec`). Factories check a
generation parameter set with :func:`validate_params`, which fills defaults and turns
``jsonschema`` errors into one-line :class:`~imagen_nb.core.errors.ValidationError` messages
("width must be a multiple of 8; got 65 — try 64 or 72"). The ``*_property`` helpers build the
property specs that providers share, so the same parameter reads the same everywhere.

``jsonschema`` is imported inside the functions that need it: this module is imported by every
provider, and importing a provider must stay cheap.
"""

from __future__ import annotations

import copy
import difflib
import math
import numbers
import secrets
from typing import Any, Iterable, Mapping, Sequence

from ..core.errors import ValidationError, did_you_mean
from ..core.values import parse_number

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

_TYPE_PHRASES = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping",
    "null": "null",
}


# ---- building specs ---------------------------------------------------------------------


def object_spec(
    properties: Mapping[str, Mapping[str, Any]],
    *,
    required: Sequence[str] = (),
    title: str | None = None,
    additional: bool = False,
) -> dict[str, Any]:
    """A parameter set spec: a JSON Schema object with ``properties`` in display order.

    Args:
        properties: name → property spec (see the ``*_property`` helpers).
        required: names that must be given.
        title: shown above the form drawn from the spec.
        additional: whether parameters not listed are accepted (``additionalProperties``).
    """
    spec: dict[str, Any] = {"$schema": SCHEMA_DIALECT, "type": "object"}
    if title:
        spec["title"] = title
    spec["properties"] = {name: dict(prop) for name, prop in properties.items()}
    if required:
        spec["required"] = list(required)
    spec["additionalProperties"] = additional
    return spec


def _prop(kind: str, description: str, title: str | None, default: Any, **extra: Any) -> dict[str, Any]:
    prop: dict[str, Any] = {"type": kind}
    if title:
        prop["title"] = title
    prop["description"] = description
    prop.update({k: v for k, v in extra.items() if v is not None})
    if default is not None:
        prop["default"] = default
    return prop


def prompt_property(
    description: str = "What the image shows.", *, title: str = "Prompt", default: str | None = None
) -> dict[str, Any]:
    """The ``prompt`` property: a string, usually required."""
    return _prop("string", description, title, default)


def string_property(description: str, *, default: str | None = None, title: str | None = None) -> dict[str, Any]:
    """A free-text property (``negative_prompt``…)."""
    return _prop("string", description, title, default)


def int_property(
    minimum: int | None,
    maximum: int | None,
    default: int | None,
    description: str,
    multiple_of: int | None = None,
    *,
    title: str | None = None,
) -> dict[str, Any]:
    """An integer property with an inclusive range, a default and an optional step."""
    return _prop("integer", description, title, default, minimum=minimum, maximum=maximum, multipleOf=multiple_of)


def number_property(
    minimum: float | None,
    maximum: float | None,
    default: float | None,
    description: str,
    multiple_of: float | None = None,
    *,
    title: str | None = None,
) -> dict[str, Any]:
    """A real-valued property (``guidance_scale``…); ints are accepted too."""
    return _prop("number", description, title, default, minimum=minimum, maximum=maximum, multipleOf=multiple_of)


def enum_property(
    choices: Sequence[Any], default: Any, description: str, *, title: str | None = None
) -> dict[str, Any]:
    """A property whose value is one of ``choices`` (a scheduler name…)."""
    kinds = {_json_type(c) for c in choices}
    prop: dict[str, Any] = {}
    if len(kinds) == 1:
        prop["type"] = kinds.pop()
    if title:
        prop["title"] = title
    prop["description"] = description
    prop["enum"] = list(choices)
    if default is not None:
        prop["default"] = default
    return prop


def bool_property(default: bool | None, description: str, *, title: str | None = None) -> dict[str, Any]:
    """A true/false property."""
    return _prop("boolean", description, title, default)


def seed_property(
    description: str = "Seed of the random noise; the same seed gives the same image. Picked and recorded when absent.",
    *,
    maximum: int = 2**32 - 1,
    title: str = "Seed",
) -> dict[str, Any]:
    """The ``seed`` property: 0 … 2**32-1 and no default (the factory picks one and records it)."""
    return _prop("integer", description, title, None, minimum=0, maximum=maximum)


def random_seed(prop: Mapping[str, Any] | None = None, *, high: int = 2**32 - 1) -> int:
    """A random seed within a spec's ``seed`` property (0 … 2**32-1 by default), at most ``high``.

    Every provider picks the seed of a generation that gives none here, so the product records
    the seed that reproduces it.
    """
    prop = prop or {}
    low = max(0, int(prop.get("minimum", 0) or 0))
    top = min(high, int(prop.get("maximum", high)))
    return low + secrets.randbelow(max(1, top - low + 1))


def spec_defaults(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Name → default value of every property of ``spec`` that declares one (deep copies)."""
    props = spec.get("properties", {}) or {}
    return {name: copy.deepcopy(prop["default"]) for name, prop in props.items() if "default" in prop}


def whole_lists(spec: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` ready for SmartParameter expansion, with lists given to list-typed parameters kept whole.

    A list is a ``[a,b,c]`` group everywhere else, but for a parameter whose spec type is
    ``array`` (``loras``, ``image_urls``…) it is the value itself: ``loras=[A, B]`` is one
    generation using both. A list of lists stays a group of values to vary over:
    ``loras=[[A], [A, B]]`` makes two generations.
    """
    props = spec.get("properties", {}) if isinstance(spec, Mapping) else {}
    out = dict(params)
    for name, value in params.items():
        prop = props.get(name)
        if not isinstance(prop, Mapping) or "array" not in _types(prop) or not isinstance(value, (list, tuple)):
            continue
        if value and all(isinstance(item, (list, tuple)) for item in value):
            continue
        out[name] = [list(value)]
    return out


def check_spec(spec: Mapping[str, Any]) -> None:
    """Raise ``jsonschema.SchemaError`` when ``spec`` is not a valid draft 2020-12 schema."""
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(spec)


# ---- validating parameter sets ----------------------------------------------------------


def validate_params(spec: Mapping[str, Any], params: Mapping[str, Any], *, model_id: str) -> dict[str, Any]:
    """Check ``params`` against ``spec``; return a new dict with defaults filled.

    Numbers are normalised first: an integral float (``4.0``) or a numeric string (``"4"``)
    given for an integer property becomes an ``int``; a number property takes ints and floats
    (numeric strings and numpy scalars become Python numbers); ``None`` for a property that does
    not accept null counts as absent. The result lists the spec's properties in spec order, then any extra ones.

    Raises:
        ValidationError: naming the first offending parameter and what it accepts.
    """
    from jsonschema import Draft202012Validator

    if not isinstance(params, Mapping):
        raise ValidationError("", f"parameters of {model_id} must be a mapping of name → value; got {_show(params)}")
    props: Mapping[str, Mapping[str, Any]] = spec.get("properties", {}) or {}

    if spec.get("additionalProperties", True) is False:
        unknown = [name for name in params if name not in props]
        if unknown:
            name = unknown[0]
            others = f" (also unknown: {', '.join(map(repr, unknown[1:]))})" if len(unknown) > 1 else ""
            raise ValidationError(
                str(name),
                f"{model_id} has no parameter {name!r}.{suggest_parameter(str(name), props)}"
                f" Accepted: {', '.join(props)}.{others}",
            )

    out: dict[str, Any] = {}
    for name, prop in props.items():
        if name in params and not (params[name] is None and not _accepts_null(prop)):
            out[name] = _normalise(params[name], prop)
            if isinstance(out[name], float) and not math.isfinite(out[name]):
                wanted = "an integer" if _types(prop) == ["integer"] else "a finite number"
                raise ValidationError(name, f"{name} must be {wanted}; got {out[name]}")
        elif "default" in prop:
            out[name] = copy.deepcopy(prop["default"])
    for name, value in params.items():
        if name not in props:
            out[name] = value

    errors = list(Draft202012Validator(spec).iter_errors(out))
    if errors:
        order = {name: i for i, name in enumerate(props)}
        errors.sort(key=lambda e: (order.get(_param_of(e), len(order)), len(e.absolute_path)))
        raise ValidationError(_param_of(errors[0]), _message(errors[0], props, model_id))
    return out


#: Names other tools use for the diffusers parameters (A1111, ComfyUI, fal, Replicate).
ALIASES = {
    "steps": "num_inference_steps",
    "num_steps": "num_inference_steps",
    "cfg": "guidance_scale",
    "cfg_scale": "guidance_scale",
    "guidance": "guidance_scale",
    "sampler": "scheduler",
    "sampler_name": "scheduler",
    "negative": "negative_prompt",
    "batch_size": "num_images_per_prompt",
    "num_images": "num_images_per_prompt",
    "num_outputs": "num_images_per_prompt",
}


def suggest_parameter(word: str, names: Iterable[str]) -> str:
    """`` Did you mean 'x'?`` for a mistyped parameter name: close spelling, a known alias, or a close tail.

    ``stpes`` → ``num_inference_steps`` (its tail ``steps``), ``cfg`` → ``guidance_scale``.
    """
    names = list(names)
    key = word.lower().replace("-", "_")
    if ALIASES.get(key) in names:  # first: 'steps' means num_inference_steps, though hires_steps is spelt closer
        return f" Did you mean {ALIASES[key]!r}?"
    hint = did_you_mean(word, names)
    if hint:
        return hint
    tails: dict[str, str] = {}
    for name in names:
        parts = name.split("_")
        for i in range(1, len(parts)):
            tails.setdefault("_".join(parts[i:]), name)
    close = difflib.get_close_matches(key, list(tails), n=1, cutoff=0.75)
    return f" Did you mean {tails[close[0]]!r}?" if close else ""


def _accepts_null(prop: Mapping[str, Any]) -> bool:
    kind = prop.get("type")
    if kind is None:
        return None in prop.get("enum", ()) or "type" not in prop and "enum" not in prop
    return kind == "null" or (isinstance(kind, list) and "null" in kind)


def _types(prop: Mapping[str, Any]) -> list[str]:
    kind = prop.get("type", [])
    return [kind] if isinstance(kind, str) else list(kind)


def _normalise(value: Any, prop: Mapping[str, Any]) -> Any:
    """Bring a numeric value to the type the property asks for, where that loses nothing."""
    kinds = _types(prop)
    if isinstance(value, bool) or not ({"integer", "number"} & set(kinds)):
        return value
    if isinstance(value, str):
        number = parse_number(value)
        if number is None:
            return value
        value = number
    if "integer" in kinds:
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, numbers.Real) and math.isfinite(value) and float(value).is_integer():
            return int(value)
    if "number" in kinds and isinstance(value, numbers.Real):
        return float(value) if not isinstance(value, numbers.Integral) else int(value)
    return value


def _param_of(error) -> str:
    path = list(error.absolute_path)
    if error.validator == "required" and not path:
        missing = [r for r in error.validator_value if isinstance(error.instance, Mapping) and r not in error.instance]
        return str(missing[0]) if missing else ""
    if error.validator == "additionalProperties" and not path:
        extra = _extra_names(error)
        return extra[0] if extra else ""
    return str(path[0]) if path else ""


def _where(error) -> str:
    """``width`` or ``images[0].strength``: the path to the offending value."""
    out = ""
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "parameters"


def _extra_names(error) -> list[str]:
    props = error.schema.get("properties", {}) or {}
    instance = error.instance if isinstance(error.instance, Mapping) else {}
    return [str(k) for k in instance if k not in props]


def _message(error, props: Mapping[str, Mapping[str, Any]], model_id: str) -> str:
    kind = error.validator
    where = _where(error)
    value = error.instance
    limit = error.validator_value
    if kind == "required":
        name = _param_of(error)
        desc = (props.get(name) or {}).get("description")
        return _one_line(f"{name} is required by {model_id}" + (f": {desc}" if desc else ""))
    if kind == "additionalProperties":
        names = _extra_names(error)
        allowed = list(error.schema.get("properties", {}))
        first = names[0] if names else "?"
        return _one_line(
            f"{model_id} has no parameter {first!r}.{suggest_parameter(first, allowed)} Accepted: {', '.join(allowed)}."
        )
    if kind == "minimum":
        return f"{where} must be ≥ {_num(limit)}; got {_show(value)}"
    if kind == "maximum":
        return f"{where} must be ≤ {_num(limit)}; got {_show(value)}"
    if kind == "exclusiveMinimum":
        return f"{where} must be > {_num(limit)}; got {_show(value)}"
    if kind == "exclusiveMaximum":
        return f"{where} must be < {_num(limit)}; got {_show(value)}"
    if kind == "multipleOf":
        return f"{where} must be a multiple of {_num(limit)}; got {_show(value)}{_neighbours(value, limit, error.schema)}"
    if kind == "enum":
        return _one_line(f"{where} must be one of {_choices(limit)}; got {_show(value)}.{_suggest(value, limit)}")
    if kind == "const":
        return _one_line(f"{where} must be {_show(limit)}; got {_show(value)}")
    if kind == "type":
        kinds = [limit] if isinstance(limit, str) else list(limit)
        wanted = " or ".join(_TYPE_PHRASES.get(k, k) for k in kinds)
        return _one_line(f"{where} must be {wanted}; got {_show(value)}")
    if kind == "minLength":
        return f"{where} must be at least {limit} character{'s' if limit != 1 else ''} long; got {len(value)}"
    if kind == "maxLength":
        return f"{where} must be at most {limit} characters long; got {len(value)}"
    if kind == "minItems":
        return f"{where} needs at least {limit} item{'s' if limit != 1 else ''}; got {len(value)}"
    if kind == "maxItems":
        return f"{where} takes at most {limit} items; got {len(value)}"
    if kind == "pattern":
        return _one_line(f"{where} must match the pattern {limit!r}; got {_show(value)}")
    return _one_line(f"{where}: {error.message}")


def _neighbours(value: Any, step: Any, schema: Mapping[str, Any]) -> str:
    """`` — try 64 or 72``: the nearest allowed values on both sides, within the range."""
    try:
        lower = math.floor(value / step) * step
    except (TypeError, ZeroDivisionError):
        return ""
    upper = lower + step
    lo_ok = lower >= schema.get("minimum", -math.inf) and lower > schema.get("exclusiveMinimum", -math.inf)
    hi_ok = upper <= schema.get("maximum", math.inf) and upper < schema.get("exclusiveMaximum", math.inf)
    tries = [_num(v) for v, ok in ((lower, lo_ok), (upper, hi_ok)) if ok]
    return f" — try {' or '.join(tries)}" if tries else ""


def _suggest(value: Any, choices: Iterable[Any]) -> str:
    """Did-you-mean among enum choices, first exactly, then ignoring case."""
    if not isinstance(value, str):
        return ""
    strings = [c for c in choices if isinstance(c, str)]
    hint = did_you_mean(value, strings)
    if hint:
        return hint
    lowered = {c.lower(): c for c in strings}
    close = difflib.get_close_matches(value.lower(), list(lowered), n=1, cutoff=0.6)
    return f" Did you mean {lowered[close[0]]!r}?" if close else ""


def _choices(choices: Iterable[Any]) -> str:
    return ", ".join(_show(c) for c in choices)


def _num(x: Any) -> str:
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    if isinstance(x, float):
        return f"{x:.10g}"
    return str(x)


def _show(value: Any) -> str:
    """A short one-line rendering of a user value for a message."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, numbers.Number) and not isinstance(value, str):
        return _num(value)
    text = repr(value)
    return _one_line(text if len(text) <= 60 else text[:57] + "…")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, numbers.Integral):
        return "integer"
    if isinstance(value, numbers.Real):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return "object"
