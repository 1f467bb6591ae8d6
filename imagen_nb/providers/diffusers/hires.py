"""Hires fix: generate at the base size, upscale, then redraw the detail with image-to-image.

A text-to-image generation with ``hires_scale`` > 1 runs three passes inside one generation
(A1111's "Hires. fix"): the pipeline makes the image at ``width`` × ``height``; an upscaler makes
it ``hires_scale`` times larger (``hires_upscaler``: ``lanczos``, or the name of an upscale model
of this provider such as a Real-ESRGAN file in the model folder); image-to-image over the same
modules then redraws ``hires_strength`` of it with the same prompt, in
``int(hires_steps × hires_strength)`` steps, seeded with the generation's seed. Every choice is in
the actual parameter set and what each pass did is in the return parameter set, so ordering the
same parameters again gives the same image.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from ...core.errors import ValidationError
from ..checks import Check
from ..spec import int_property, number_property

if TYPE_CHECKING:
    from .provider import DiffusersProvider

SCALE, UPSCALER, STRENGTH, STEPS = "hires_scale", "hires_upscaler", "hires_strength", "hires_steps"
LANCZOS = "lanczos"
DEFAULT_STRENGTH = 0.5
#: The largest side a hires result may have.
MAX_SIDE = 4096


def hires_properties() -> dict[str, dict[str, Any]]:
    """The hires-fix properties of every diffusers text-to-image spec (off unless ``hires_scale`` is given)."""
    return {
        SCALE: number_property(1, 4, None, "Hires fix: make the image at width × height, upscale it this many"
                                           " times, then redraw its detail with image-to-image. Empty: off.",
                               title="Hires scale"),
        UPSCALER: {"type": "string", "title": "Hires upscaler",
                   "description": "How the hires fix enlarges the first image: 'lanczos' (the default), or an"
                                  " upscale model of this provider (e.g. a Real-ESRGAN file of the model folder)."},
        STRENGTH: number_property(0, 1, None, f"Hires fix: how much of the upscaled image is redrawn (default"
                                              f" {DEFAULT_STRENGTH}).", title="Hires strength"),
        STEPS: int_property(1, 150, None, "Hires fix: denoising steps of the redraw (default: Steps);"
                                          " int(steps × strength) run.", title="Hires steps"),
    }


def checks(provider: DiffusersProvider) -> list[Check]:
    """``hires-rules``: hires options need ``hires_scale``; not with an input image; a known upscaler.

    With ``hires_scale`` the other options get their defaults (``lanczos``, strength 0.5); without
    it none is added, so a plain generation's actual parameter set is unchanged.
    """
    def rules(given: Mapping[str, Any], out: dict[str, Any]) -> dict[str, Any]:
        if out.get(SCALE) is None or float(out[SCALE]) == 1:
            extra = [k for k in (UPSCALER, STRENGTH, STEPS) if given.get(k) is not None]
            if extra:
                raise ValidationError(extra[0], f"{extra[0]} applies to the hires fix only: give hires_scale=2 (or"
                                                " up to 4) with it, or leave it out")
            for key in (SCALE, UPSCALER, STRENGTH, STEPS):
                out.pop(key, None)
            return out
        if out.get("image") is not None:
            raise ValidationError(SCALE, "the hires fix applies to text-to-image; with an image, upscale the"
                                         " result instead (product.upscale(…)) or leave hires_scale out")
        out.setdefault(STRENGTH, DEFAULT_STRENGTH)  # defaults here, not in the spec: off, a plain set is unchanged
        if out[STRENGTH] is None:
            out[STRENGTH] = DEFAULT_STRENGTH
        upscaler = out.get(UPSCALER) or LANCZOS
        if upscaler != LANCZOS:
            try:
                info = provider.model(upscaler)
            except Exception as exc:
                raise ValidationError(UPSCALER, f"hires_upscaler {upscaler!r} is neither 'lanczos' nor a model of"
                                                f" this provider: {exc}") from exc
            if info.type != "upscale":
                raise ValidationError(UPSCALER, f"hires_upscaler {upscaler!r} is a {info.type} model; name an"
                                                " upscale model (studio.upscalers() lists them) or 'lanczos'")
        out[UPSCALER] = upscaler
        width, height = target(out)
        if max(width, height) > MAX_SIDE:
            raise ValidationError(SCALE, f"the hires result would be {width}×{height}; lower hires_scale or the"
                                         f" base size (at most {MAX_SIDE} px a side)")
        steps = int(out.get(STEPS) or out.get("num_inference_steps") or 1)
        if int(steps * float(out[STRENGTH])) < 1:
            raise ValidationError(STRENGTH, f"hires_strength {out[STRENGTH]:g} with {steps} steps redraws nothing;"
                                            " raise hires_strength or hires_steps")
        return out

    return [Check("hires-rules", rules, each="row")]


def target(params: Mapping[str, Any]) -> tuple[int, int]:
    """The (width, height) of a hires result: base × ``hires_scale``, rounded down to a multiple of 8."""
    scale = float(params[SCALE])
    return (int(int(params["width"]) * scale) // 8 * 8, int(int(params["height"]) * scale) // 8 * 8)


def steps(params: Mapping[str, Any]) -> int:
    """Denoising steps the redraw runs: ``int(hires_steps × hires_strength)``."""
    total = int(params.get(STEPS) or params["num_inference_steps"])
    return max(1, int(total * float(params[STRENGTH])))


def enlarge(provider: DiffusersProvider, image, params: Mapping[str, Any], ctx, generation_id: str):
    """The first image enlarged to :func:`target` with the chosen upscaler; and what to record of it."""
    from PIL import Image

    size = target(params)
    upscaler = params.get(UPSCALER) or LANCZOS
    if upscaler == LANCZOS:
        return image.resize(size, Image.Resampling.LANCZOS), {"upscaler": LANCZOS}
    from .upscalers import upscale_image

    info = provider.model(upscaler)
    factor = float(info.spec.get("x-upscale-factor", 4))
    sub = {"scale": min(factor, float(params[SCALE])), "seed": int(params["seed"]), "prompt": params.get("prompt"),
           **{k: v.get("default") for k, v in info.spec.get("properties", {}).items()
              if k not in ("image", "scale", "seed", "prompt") and "default" in v}}
    big, returned = upscale_image(provider, info, image, sub, None, None)
    if big.size != size:
        big = big.resize(size, Image.Resampling.LANCZOS)
    return big, {"upscaler": info.id, "upscaler_hash": returned.get("model_hash"),
                 "upscaler_architecture": returned.get("architecture") or returned.get("pipeline_class")}


def redraw(loaded, pipe_args: Mapping[str, Any], image, params: Mapping[str, Any], generator, on_step_end):
    """Image-to-image over the loaded pipeline's modules at the hires size; returns the PIL image."""
    img2img = loaded.img2img()
    args = {k: v for k, v in pipe_args.items() if k not in ("width", "height", "num_images_per_prompt")}
    args["num_inference_steps"] = int(params.get(STEPS) or params["num_inference_steps"])
    out = img2img(**args, image=image, strength=float(params[STRENGTH]), generator=generator,
                  callback_on_step_end=on_step_end, output_type="pil")
    return out.images[0]
