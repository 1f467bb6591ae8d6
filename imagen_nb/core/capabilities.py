"""What a model can do, read from its type and parameter spec: the capability columns of ``studio.models()``.

Scripts and the Order panel filter on these instead of parsing specs::

    models = studio.models()
    models[models.upscale_factor >= 4]          # upscalers that make ×4
    models[models.image_to_image & models.loras]  # can start from an image and take LoRAs

Everything here is derived (nothing is stored): a provider declares a model's type and spec, and
the spec says the rest (``image`` input → image-to-image, ``loras`` → LoRA support,
``x-upscale-factor`` → upscale factor, the ``width``/``height`` maxima → largest size).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

#: model type → (inputs, outputs) it always has.
MODALITIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "text-to-image": (("text",), ("image",)),
    "image-to-image": (("image",), ("image",)),
    "text-to-video": (("text",), ("video",)),
    "image-to-video": (("image",), ("video",)),
    "text-to-audio": (("text",), ("audio",)),
    "image-to-text": (("image",), ("text",)),
    "text-to-text": (("text",), ("text",)),
    "upscale": (("image",), ("image",)),
}
#: The capability columns, in the order ``studio.models()`` shows them.
COLUMNS = ("inputs", "outputs", "image_to_image", "upscale_factor", "loras", "hires_fix", "max_size")


@dataclass(frozen=True)
class Capabilities:
    """What one model can do.

    Args:
        inputs: modalities it takes, comma-separated (``"text,image"``).
        outputs: modalities it makes (``"image"``).
        image_to_image: it can start from an image and redraw it (img2img, variations); upscalers say
            ``upscale_factor`` instead.
        upscale_factor: how many times larger its output is than its input (upscale models), else None.
        loras: it takes LoRAs (a ``loras`` parameter).
        hires_fix: it offers the hires fix (a ``hires_scale`` parameter).
        max_size: the largest width/height in pixels it generates, when its spec says (else None); for
            an upscaler, its largest input side × its factor. The hires fix may go beyond a
            text-to-image model's size.
    """

    inputs: str
    outputs: str
    image_to_image: bool
    upscale_factor: int | None
    loras: bool
    hires_fix: bool
    max_size: int | None

    def as_row(self) -> dict[str, Any]:
        """The capability columns as a dict (for a DataFrame row)."""
        return asdict(self)


def _image_input(prop: Any) -> bool:
    return isinstance(prop, Mapping) and (
        prop.get("format") == "uri" or any(k.startswith("x-") and k.endswith("-file") and v for k, v in prop.items()))


def capabilities(model_type: str, spec: Mapping[str, Any]) -> Capabilities:
    """The :class:`Capabilities` of a model of ``model_type`` with parameter spec ``spec``."""
    props = spec.get("properties", {}) if isinstance(spec, Mapping) else {}
    props = props if isinstance(props, Mapping) else {}
    ins, outs = MODALITIES.get(model_type, ((), ()))
    inputs = list(ins)
    if "prompt" in props and "text" not in inputs:
        inputs.append("text")
    images = [name for name, prop in props.items() if _image_input(prop) and "image" in name]
    if images and "image" not in inputs:
        inputs.append("image")
    image_to_image = "image" in inputs and "image" in outs and model_type != "upscale"
    factor = spec.get("x-upscale-factor") if isinstance(spec, Mapping) else None
    factor = int(factor) if isinstance(factor, (int, float)) and not isinstance(factor, bool) else None
    max_size = _max_side(props)
    if factor and max_size is None and isinstance(spec.get("x-max-input-side"), int):
        max_size = int(spec["x-max-input-side"]) * factor
    return Capabilities(",".join(inputs), ",".join(outs), image_to_image, factor if model_type == "upscale" else None,
                        "loras" in props, "hires_scale" in props, max_size)


def _max_side(props: Mapping[str, Any]) -> int | None:
    sides = [props.get(side, {}).get("maximum") for side in ("width", "height") if isinstance(props.get(side), Mapping)]
    sides = [int(s) for s in sides if isinstance(s, (int, float)) and not isinstance(s, bool)]
    if not sides:
        return None
    return max(sides)
