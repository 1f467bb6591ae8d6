"""Parameter set specs of the model families the diffusers provider runs."""

from __future__ import annotations

from typing import Any

from ..spec import (
    enum_property,
    int_property,
    number_property,
    object_spec,
    prompt_property,
    seed_property,
    string_property,
)
from .hires import hires_properties
from .img2img import image_properties
from .loras import lora_property
from .schedulers import DEFAULT_SCHEDULER, SCHEDULERS

SD1 = "stable-diffusion-1"
SD2 = "stable-diffusion-2"
SDXL = "sdxl"

#: family → (pipeline class, default width/height, default guidance scale).
FAMILIES: dict[str, tuple[str, int, float]] = {
    SD1: ("StableDiffusionPipeline", 512, 7.5),
    SDXL: ("StableDiffusionXLPipeline", 1024, 5.0),
    SD2: ("StableDiffusionPipeline", 768, 7.5),
}

#: ``_class_name`` in a folder's model_index.json → family (the first family of a class: SD 2
#: shares SD 1's pipeline class and is told apart by its UNet's cross-attention width).
PIPELINE_FAMILIES: dict[str, str] = {}
for _family, (_cls, _, _) in FAMILIES.items():
    PIPELINE_FAMILIES.setdefault(_cls, _family)


def text_to_image_spec(
    family: str = SD1,
    *,
    size: int | None = None,
    steps: int = 25,
    guidance_scale: float | None = None,
) -> dict[str, Any]:
    """The spec of a Stable Diffusion text-to-image model of ``family``.

    Args:
        size: default width and height in pixels (the family's native size when None).
        steps: default ``num_inference_steps``.
        guidance_scale: default guidance scale (the family's usual one when None).
    """
    _, native, cfg = FAMILIES[family]
    size = size or native
    return object_spec(
        {
            "prompt": prompt_property(),
            "negative_prompt": string_property(
                "What the image should not show.", default="", title="Negative prompt"
            ),
            "width": int_property(64, 2048, size, "Image width in pixels, a multiple of 8.", 8, title="Width"),
            "height": int_property(64, 2048, size, "Image height in pixels, a multiple of 8.", 8, title="Height"),
            "num_inference_steps": int_property(
                1, 150, steps, "Denoising steps: more is slower and usually finer.", title="Steps"
            ),
            "guidance_scale": number_property(
                0, 30, guidance_scale if guidance_scale is not None else cfg,
                "How closely the image follows the prompt (classifier-free guidance); ≤ 1 turns it off.",
                title="CFG scale",
            ),
            "seed": seed_property(),
            "num_images_per_prompt": int_property(
                1, 8, 1, "Images made by one generation (one pipeline call).", title="Images"
            ),
            "scheduler": enum_property(
                list(SCHEDULERS), DEFAULT_SCHEDULER, "The sampler that steps through the noise.", title="Sampler"
            ),
            "clip_skip": {
                "type": "integer", "minimum": 1, "maximum": 11, "title": "Clip skip",
                "description": "Text-encoder layers to skip from the end, in diffusers' counting: "
                               "1 uses the layer before the last (A1111's 'Clip skip: 2').",
            },
            "loras": lora_property(),
            # Optional: with an image the generation runs image-to-image (see img2img.py).
            **image_properties(),
            # Optional: the hires fix (see hires.py).
            **hires_properties(),
        },
        required=["prompt"],
        title=f"{family} text-to-image",
    )


def tiny_spec() -> dict[str, Any]:
    """The spec of ``diffusers:tiny``: SD-1 parameters with small, fast defaults (64×64, 4 steps)."""
    return text_to_image_spec(SD1, size=64, steps=4)
