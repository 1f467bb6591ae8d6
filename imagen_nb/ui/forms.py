"""The Order panel's form, drawn from a model's JSON Schema, and the values it edits.

:func:`describe_model` turns a model's spec into fields the page draws (kind, label, help,
range, choices, default, and whether the field sits under "Advanced"). The page edits every
parameter as text, so any field may hold SmartParameter syntax (``[1,2,3]``, ``[1..4]``,
``[a|b]``, ``[token]``): :func:`params_from_values` turns the form's text back into typed
values (``"64"`` → 64, ``"true"`` → True) where the text is a plain value, and
:func:`values_from_params` does the reverse for re-orders and presets.
"""

from __future__ import annotations

import json
import math
from typing import Any, Mapping

from ..core.file_inputs import is_file_input
from ..core.records import ModelInfo
from ..core.smart import escape, has_smart_syntax
from ..core.values import parse_number

#: Fields drawn as text areas.
PROMPT_NAMES = frozenset({"prompt", "negative_prompt"})
#: Short labels people know from other tools (A1111, Invoke) for diffusers' argument names; the
#: page shows the name itself on hover. A spec's own ``title`` wins over these.
FRIENDLY_LABELS = {
    "num_inference_steps": "Steps", "guidance_scale": "CFG scale", "num_images_per_prompt": "Images per prompt",
    "negative_prompt": "Negative prompt", "seed": "Seed", "width": "Width", "height": "Height",
    "strength": "Strength", "scheduler": "Sampler", "clip_skip": "Clip skip", "loras": "LoRAs",
    "image": "Image", "step_seconds": "Seconds per step",
}
#: Fields shown above the fold; the others go under "Advanced" (a spec may say ``x-advanced``).
COMMON_NAMES = frozenset({
    "prompt", "negative_prompt", "image", "mask", "mask_image", "control_image", "strength",
    "prompt_strength", "width", "height", "aspect_ratio", "image_size", "num_inference_steps",
    "guidance_scale", "seed", "num_images_per_prompt", "scheduler", "duration", "loras",
})


def json_types(prop: Mapping[str, Any]) -> list[str]:
    """The JSON types a spec property takes, ``null`` left out (the first typed ``anyOf``/``oneOf``
    branch when the property names none itself)."""
    kind = prop.get("type")
    if kind is None:
        for alt in prop.get("anyOf", ()) or prop.get("oneOf", ()):
            if isinstance(alt, Mapping) and alt.get("type") not in (None, "null"):
                return json_types(alt)
        return []
    kinds = [kind] if isinstance(kind, str) else list(kind)
    return [k for k in kinds if k != "null"]


def is_image_input(name: str, prop: Mapping[str, Any]) -> bool:
    """Whether the form offers a file or product picker for a property: exactly the parameters the
    Studio resolves product ids for (:func:`imagen_nb.core.file_inputs.is_file_input`)."""
    return is_file_input(name, prop)


def _num(value: Any) -> str:
    """A bound as range help shows it: whole floats as ints, separators from 10,000 up."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    if isinstance(value, int) and abs(value) >= 10_000:
        return f"{value:,}"
    return str(value)


def range_text(prop: Mapping[str, Any]) -> str | None:
    """A number property's range as help text: ``64 – 2,048, step 8``; None when unbounded."""
    lo = prop.get("minimum", prop.get("exclusiveMinimum"))
    hi = prop.get("maximum", prop.get("exclusiveMaximum"))
    parts = []
    if lo is not None and hi is not None:
        parts.append(f"{_num(lo)} – {_num(hi)}")
    elif lo is not None:
        parts.append(f"{'>' if 'exclusiveMinimum' in prop else '≥'} {_num(lo)}")
    elif hi is not None:
        parts.append(f"{'<' if 'exclusiveMaximum' in prop else '≤'} {_num(hi)}")
    if prop.get("multipleOf") is not None:
        parts.append(f"step {_num(prop['multipleOf'])}")
    return ", ".join(parts) or None


def _text(value: Any, prop: Mapping[str, Any]) -> str:
    """One parameter value as the text the form shows (the inverse of :func:`_typed`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        return value
    kinds = json_types(prop)
    if isinstance(value, (list, tuple)) and "array" not in kinds:
        # A list given to a plain parameter is a group of options: seed=[1, 2] is "[1,2]".
        return "[" + ",".join(escape(_text(v, {})) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def field_of(name: str, prop: Mapping[str, Any], required: bool) -> dict[str, Any]:
    """How the page draws one parameter: its kind, label, help, range, choices and default."""
    kinds = json_types(prop)
    if "enum" in prop:
        kind = "enum"
    elif is_image_input(name, prop):
        kind = "image"
    elif "integer" in kinds:
        kind = "integer"
    elif "number" in kinds:
        kind = "number"
    elif "boolean" in kinds:
        kind = "boolean"
    elif "array" in kinds or "object" in kinds:
        kind = "json"
    elif name in PROMPT_NAMES or name.endswith("_prompt"):
        kind = "prompt"
    else:
        kind = "text"
    default = prop.get("default")
    advanced = prop.get("x-advanced")
    if advanced is None:
        advanced = not (required or name in COMMON_NAMES)
    return {
        "name": name,
        "label": prop.get("title") or FRIENDLY_LABELS.get(name) or name.replace("_", " ").capitalize(),
        "kind": kind,
        "required": required,
        "advanced": bool(advanced),
        "description": prop.get("description") or "",
        "range": range_text(prop) if kind in ("integer", "number") else None,
        "minimum": prop.get("minimum"),
        "maximum": prop.get("maximum"),
        "step": prop.get("multipleOf"),
        "choices": [_text(v, {}) for v in prop["enum"]] if kind == "enum" else
                   (["true", "false"] if kind == "boolean" else None),
        "default": _text(default, prop) if "default" in prop else None,
    }


def describe_model(info: ModelInfo, key_missing: str | None = None) -> dict[str, Any]:
    """The form of a model: its identity and one field per spec property (``x-order`` first)."""
    spec = info.spec if isinstance(info.spec, Mapping) else {}
    props = spec.get("properties") or {}
    required = set(spec.get("required") or ())
    position = {n: i for i, n in enumerate(props)}
    names = sorted(props, key=lambda n: (props[n].get("x-order", math.inf) if isinstance(props[n], Mapping)
                                         else math.inf, position[n]))
    fields = [field_of(n, props[n], n in required) for n in names if isinstance(props[n], Mapping)]
    return {
        "id": info.id, "provider": info.provider, "name": info.name, "type": info.type,
        "family": info.family, "description": info.description, "title": spec.get("title") or info.id,
        "key_missing": key_missing, "image_to_image": info.supports_image_to_image, "fields": fields,
    }


def _typed(text: str, prop: Mapping[str, Any]) -> Any:
    """One field's text as the value its spec wants (the inverse of :func:`_text`); text that
    is not a plain value of that type (SmartParameter syntax, a typo) stays text."""
    kinds = json_types(prop)
    if not kinds and "enum" in prop:  # an untyped enum: the choice whose text was picked
        return next((v for v in prop["enum"] if _text(v, {}) == text), text)
    if "array" in kinds or "object" in kinds:
        try:
            value = json.loads(text)
        except ValueError:
            return text  # a text form the provider reads ("style-a:0.6"), or smart syntax
        return value if isinstance(value, (list, dict)) else text
    if has_smart_syntax(text):
        return text
    if "integer" in kinds or "number" in kinds:
        number = parse_number(text)
        return text if number is None else number  # the spec check says what is wrong, at this field
    if "boolean" in kinds and text.lower() in ("true", "false", "yes", "no", "on", "off", "1", "0"):
        return text.lower() in ("true", "yes", "on", "1")
    return text


def params_from_values(spec: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """Base parameters from the form's text: blanks are left out (the model's default applies),
    plain numbers and booleans get their type, SmartParameter syntax stays text."""
    props = (spec.get("properties") or {}) if isinstance(spec, Mapping) else {}
    out: dict[str, Any] = {}
    for name, raw in values.items():
        if raw is None:
            continue
        if not isinstance(raw, str):
            out[name] = raw
            continue
        text = raw.strip()
        if not text:
            continue
        prop = props.get(name)
        out[name] = _typed(text, prop) if isinstance(prop, Mapping) else text
    return out


def values_from_params(spec: Mapping[str, Any], params: Mapping[str, Any] | None) -> dict[str, str]:
    """The form's text for base parameters (a re-order or a preset)."""
    props = (spec.get("properties") or {}) if isinstance(spec, Mapping) else {}
    return {name: _text(value, props.get(name) or {}) for name, value in (params or {}).items()}
