"""Which parameters of a spec take a file: the one decision the Studio, the panels and the providers share.

The Studio replaces a product id given for such a parameter by the product's file, the Order panel
offers a file or product picker for it, and remote providers send the file (inline or uploaded).
Deciding it in one place means a picker is never offered for a field the Studio will not resolve.
"""

from __future__ import annotations

from typing import Any, Mapping

#: Names that take an image even when their spec does not say so.
IMAGE_NAMES = frozenset({"image", "mask", "mask_image", "control_image", "init_image", "image_url",
                         "mask_url", "input_image", "first_frame_image"})


def _types(prop: Mapping[str, Any]) -> set[str]:
    kind = prop.get("type")
    kinds = {kind} if isinstance(kind, str) else set(kind or ())
    for alt in prop.get("anyOf") or prop.get("oneOf") or ():
        if isinstance(alt, Mapping) and isinstance(alt.get("type"), str):
            kinds.add(alt["type"])
    return kinds - {"null"}


def is_file_input(name: str, prop: Any) -> bool:
    """Whether property ``name`` takes a file: ``format: uri``, a ``contentMediaType``, an
    ``x-*-file`` flag, or a well-known image name (:data:`IMAGE_NAMES`); never a non-string one."""
    if not isinstance(prop, Mapping):
        return False
    kinds = _types(prop)
    if kinds and "string" not in kinds:
        return False
    return (prop.get("format") == "uri" or bool(prop.get("contentMediaType"))
            or any(k.startswith("x-") and k.endswith("-file") and v for k, v in prop.items())
            or name in IMAGE_NAMES)


def file_inputs(spec: Any) -> list[str]:
    """Names of the properties of ``spec`` that take a file, in spec order (see :func:`is_file_input`)."""
    props = (spec.get("properties") or {}) if isinstance(spec, Mapping) else {}
    return [name for name, prop in props.items() if is_file_input(name, prop)]
