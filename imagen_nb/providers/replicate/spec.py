"""Parameter specs of Replicate models: curated ones written by hand, others built from a version's OpenAPI schema.

Our specs use diffusers' parameter names (``num_images_per_prompt``, ``guidance_scale``…). A
property whose Replicate input is called differently carries the extension
``x-replicate-name`` (``num_images_per_prompt`` → ``num_outputs``, ``guidance_scale`` →
``guidance`` on FLUX); :func:`replicate_inputs` applies it when a parameter set is sent.
Every spec also carries ``x-replicate`` at its top: the ``owner/name`` it runs, the pinned
``version`` (or None) and whether the model is ``official`` (run through the model's own
predictions endpoint instead of a version).
"""

from __future__ import annotations

import copy
import re
from typing import Any, Mapping

from ...core.errors import ProviderError, UnknownModelError
from ...core.file_inputs import file_inputs
from ...core.records import ModelInfo
from ..spec import (
    bool_property, check_spec, enum_property, int_property, number_property, object_spec, prompt_property,
    seed_property, string_property,
)

PROVIDER = "replicate"
#: Property extension: the model's own input name where it differs from ours.
NAME_EXT = "x-replicate-name"
#: Spec extension: ``{"model": "owner/name", "version": str | None, "official": bool}``.
TARGET_EXT = "x-replicate"

#: Replicate input names → our (diffusers') names, applied to fetched schemas when the
#: target name is not an input of the model already.
RENAMES = {
    "num_outputs": "num_images_per_prompt",
    "guidance": "guidance_scale",
    "cfg": "guidance_scale",
    "steps": "num_inference_steps",
    "num_steps": "num_inference_steps",
}

_NAME = re.compile(r"^(?P<owner>[A-Za-z0-9][A-Za-z0-9._-]*)/(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)"
                   r"(?::(?P<version>[0-9a-f]{64}))?$")


def parse_name(name: str) -> tuple[str, str, str | None]:
    """``owner/name[:version]`` → (owner, name, version or None); UnknownModelError teaching the form."""
    match = _NAME.match(name or "")
    if match is None:
        raise UnknownModelError(
            f"Replicate model ids look like 'replicate:<owner>/<name>' or 'replicate:<owner>/<name>:<version>' "
            f"with a 64-hex version (e.g. 'replicate:black-forest-labs/flux-schnell'); got {name!r}")
    return match["owner"], match["name"], match["version"]


def target(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The ``x-replicate`` extension of a spec (model, version, official)."""
    return dict(spec.get(TARGET_EXT) or {})


def replicate_inputs(spec: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """A validated parameter set under the model's own input names (None values dropped)."""
    props = spec.get("properties") or {}
    out: dict[str, Any] = {}
    for name, value in params.items():
        if value is None:
            continue
        out[(props.get(name) or {}).get(NAME_EXT, name)] = value
    return out


# ---- OpenAPI (Cog) schema → our JSON Schema -----------------------------------------------

_KEEP = {"type", "enum", "const", "default", "description", "title", "minimum", "maximum", "exclusiveMinimum",
         "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "pattern", "format", "minItems",
         "maxItems", "uniqueItems", "x-order"}


def spec_from_openapi(openapi: Mapping[str, Any], *, model: str, version: str | None,
                      official: bool = False) -> dict[str, Any]:
    """Our spec from a version's ``openapi_schema`` (its ``components.schemas.Input``).

    Enums that Cog puts behind ``allOf: [{$ref: …}]`` are resolved in place; OpenAPI 3.0's
    ``nullable`` and boolean ``exclusiveMinimum`` become JSON Schema; ``x-order`` is kept and
    decides the order of the properties; unknown inputs are refused (``additionalProperties: false``).
    """
    components = ((openapi or {}).get("components") or {}).get("schemas") or {}
    inputs = components.get("Input")
    if not isinstance(inputs, Mapping) or not isinstance(inputs.get("properties", {}), Mapping):
        raise ProviderError(f"the OpenAPI schema of Replicate model {model} has no components.schemas.Input; "
                            "pin another version (replicate:<owner>/<name>:<version>)")
    raw = inputs.get("properties") or {}
    ordered = sorted(raw.items(), key=lambda item: (_order_of(item[1]), list(raw).index(item[0])))
    props: dict[str, dict[str, Any]] = {}
    for name, prop in ordered:
        props[name] = _convert(prop, components, depth=0)
    required = [r for r in inputs.get("required", []) if r in props]
    for theirs, ours in RENAMES.items():
        if theirs in props and ours not in props:
            props = {(ours if k == theirs else k): v for k, v in props.items()}
            props[ours][NAME_EXT] = theirs
            required = [ours if r == theirs else r for r in required]
    spec = object_spec(props, required=required, title=f"{model}" + (f":{version[:12]}" if version else ""))
    spec[TARGET_EXT] = {"model": model, "version": version, "official": official}
    return spec


def _order_of(prop: Any) -> float:
    order = prop.get("x-order") if isinstance(prop, Mapping) else None
    return float(order) if isinstance(order, (int, float)) and not isinstance(order, bool) else float("inf")


def _resolve(ref: str, components: Mapping[str, Any]) -> Mapping[str, Any]:
    prefix = "#/components/schemas/"
    if not isinstance(ref, str) or not ref.startswith(prefix) or ref[len(prefix):] not in components:
        raise ProviderError(f"the OpenAPI schema refers to {ref!r}, which it does not define")
    return components[ref[len(prefix):]]


def _convert(prop: Any, components: Mapping[str, Any], depth: int) -> dict[str, Any]:
    if not isinstance(prop, Mapping):
        return {}
    if depth > 8:
        raise ProviderError("the OpenAPI schema nests $ref more than 8 deep")
    merged: dict[str, Any] = {}
    # Referenced parts first, so the property's own title/description/default win.
    if "$ref" in prop:
        merged.update(_convert(_resolve(prop["$ref"], components), components, depth + 1))
    for part in prop.get("allOf") or ():
        merged.update(_convert(part, components, depth + 1))
    for key in ("anyOf", "oneOf"):
        if prop.get(key):
            merged[key] = [_convert(p, components, depth + 1) for p in prop[key]]
    merged.update({k: copy.deepcopy(v) for k, v in prop.items() if k in _KEEP})
    if "items" in prop:
        merged["items"] = _convert(prop["items"], components, depth + 1)
    # OpenAPI 3.0 forms that JSON Schema 2020-12 spells differently.
    for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        if merged.get(exclusive) is True and bound in merged:
            merged[exclusive] = merged.pop(bound)
        elif isinstance(merged.get(exclusive), bool):
            merged.pop(exclusive)
    if prop.get("nullable") and isinstance(merged.get("type"), str):
        merged["type"] = [merged["type"], "null"]
    kinds = merged.get("type") or []
    if merged.get("default", 0) is None and "null" not in ([kinds] if isinstance(kinds, str) else kinds):
        merged.pop("default")  # Cog writes default: null for optional inputs: it means "absent"
    return merged


def model_from_openapi(openapi: Mapping[str, Any], *, name: str, model: str, version: str | None,
                       description: str = "", official: bool = False) -> ModelInfo:
    """A ModelInfo for a fetched model: spec from its schema, type guessed from its inputs.

    Args:
        name: the model's name in our id (``owner/name`` or ``owner/name:version``).
        model: ``owner/name``; version: the version that runs (None: the model's endpoint).
    """
    spec = spec_from_openapi(openapi, model=model, version=version, official=official)
    try:
        check_spec(spec)
    except Exception as exc:  # jsonschema.SchemaError: the model's own schema is broken
        raise ProviderError(f"the input schema of Replicate model {name} is not valid JSON Schema "
                            f"({str(exc).splitlines()[0]}); pin another version") from None
    props = spec["properties"]
    images = [n for n in file_inputs(spec) if "image" in n or n in ("img", "input")]
    required_image = any(n in spec.get("required", ()) for n in images)
    kind = "image-to-image" if required_image else "text-to-image"
    text = (description or "").strip().splitlines()[0] if (description or "").strip() else ""
    return ModelInfo(provider=PROVIDER, name=name, type=kind, family="replicate", spec=spec,
                     description=text or f"Replicate model {model}" + (f" version {version[:12]}" if version else "")
                     + f" ({len(props)} inputs, spec from its OpenAPI schema)")


# ---- curated models ------------------------------------------------------------------------


def _as(name: str, prop: dict[str, Any]) -> dict[str, Any]:
    """``prop`` sent to Replicate as ``name``."""
    return {**prop, NAME_EXT: name}


def _uri(description: str) -> dict[str, Any]:
    return {"type": "string", "format": "uri",
            "description": f"{description} An http(s) URL, a data: URI or the path of a local file."}


_ASPECT = ["1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21"]
_SDXL_SCHEDULERS = ["DDIM", "DPMSolverMultistep", "HeunDiscrete", "KarrasDPM", "K_EULER_ANCESTRAL", "K_EULER",
                    "PNDM"]


def _curated(name: str, kind: str, family: str, description: str, props: dict[str, dict[str, Any]], *,
             required=("prompt",), official: bool, factor: int | None = None) -> ModelInfo:
    spec = object_spec(props, required=required, title=name)
    spec[TARGET_EXT] = {"model": name, "version": None, "official": official}
    if factor:
        spec["x-upscale-factor"] = factor
    return ModelInfo(provider=PROVIDER, name=name, type=kind, family=family, spec=spec, description=description)


def _flux_common(steps: tuple[int, int, int]) -> dict[str, dict[str, Any]]:
    return {
        "aspect_ratio": enum_property(_ASPECT, "1:1", "Aspect ratio of the image."),
        "num_images_per_prompt": _as("num_outputs", int_property(1, 4, 1, "Images per generation.")),
        "num_inference_steps": int_property(steps[0], steps[1], steps[2], "Denoising steps."),
    }


def _flux_tail() -> dict[str, dict[str, Any]]:
    return {
        "seed": seed_property(),
        # PNG by default (Replicate's default is webp): PNG products carry their parameters.
        "output_format": enum_property(["png", "webp", "jpg"], "png", "File format of the images."),
        "output_quality": int_property(0, 100, 80, "Quality of jpg/webp output (not used for png)."),
        "go_fast": bool_property(True, "Run the faster fp8 version of the model."),
        "megapixels": enum_property(["1", "0.25"], "1", "Approximate size of the image in megapixels."),
        "disable_safety_checker": bool_property(False, "Skip Replicate's safety checker."),
    }


def _sdxl_like(*, steps: tuple[int, int, int], guidance: tuple[float, float, float], negative: str,
               schedulers: list[str], size: tuple[int, int]) -> dict[str, dict[str, Any]]:
    return {
        "prompt": prompt_property(),
        "negative_prompt": string_property("What the image should not show.", default=negative),
        "width": int_property(size[0], size[1], 1024, "Width in pixels.", 8),
        "height": int_property(size[0], size[1], 1024, "Height in pixels.", 8),
        "num_images_per_prompt": _as("num_outputs", int_property(1, 4, 1, "Images per generation.")),
        "scheduler": enum_property(schedulers, "K_EULER", "Sampler."),
        "num_inference_steps": int_property(steps[0], steps[1], steps[2], "Denoising steps."),
        "guidance_scale": number_property(guidance[0], guidance[1], guidance[2], "Classifier-free guidance scale."),
        "seed": seed_property(),
        "disable_safety_checker": bool_property(False, "Skip Replicate's safety checker."),
    }


def _build_curated() -> tuple[ModelInfo, ...]:
    sdxl = _sdxl_like(steps=(1, 500, 50), guidance=(1, 50, 7.5), negative="", schedulers=_SDXL_SCHEDULERS,
                      size=(128, 2048))
    sdxl.update({
        "image": _uri("Input image for img2img or inpainting; with it, prompt_strength says how much changes."),
        "mask": _uri("Inpainting mask: white areas are repainted, black ones kept."),
        "prompt_strength": number_property(0, 1, 0.8, "With an image: 1.0 replaces it entirely."),
        "refine": enum_property(["no_refiner", "expert_ensemble_refiner", "base_image_refiner"], "no_refiner",
                                "Refiner to use."),
        "high_noise_frac": number_property(0, 1, 0.8, "Fraction of noise for expert_ensemble_refiner."),
        "apply_watermark": bool_property(True, "Watermark the image invisibly."),
    })
    return (
        _curated("black-forest-labs/flux-schnell", "text-to-image", "flux",
                 "FLUX.1 [schnell]: fast text-to-image in 1–4 steps (official model).",
                 {"prompt": prompt_property(), **_flux_common((1, 4, 4)), **_flux_tail()}, official=True),
        _curated("black-forest-labs/flux-dev", "text-to-image", "flux",
                 "FLUX.1 [dev]: text-to-image, or image-to-image with an image and prompt_strength (official model).",
                 {"prompt": prompt_property(), **_flux_common((1, 50, 28)),
                  "guidance_scale": _as("guidance", number_property(0, 10, 3, "Guidance (FLUX distilled guidance).")),
                  "image": _uri("Input image for image-to-image mode (aspect_ratio then follows the image)."),
                  "prompt_strength": number_property(0, 1, 0.8, "With an image: 1.0 replaces it entirely."),
                  **_flux_tail()}, official=True),
        _curated("stability-ai/sdxl", "text-to-image", "sdxl",
                 "Stable Diffusion XL; image-to-image with image + prompt_strength, inpainting with a mask.",
                 sdxl, official=False),
        _curated("bytedance/sdxl-lightning-4step", "text-to-image", "sdxl",
                 "SDXL-Lightning: SDXL quality in 4 steps.",
                 _sdxl_like(steps=(1, 10, 4), guidance=(0, 50, 0), negative="worst quality, low quality",
                            schedulers=_SDXL_SCHEDULERS + ["DPM++2MSDE"], size=(256, 1280)), official=False),
        _curated("black-forest-labs/flux-kontext-pro", "image-to-image", "flux",
                 "FLUX.1 Kontext [pro]: edits an image following a text instruction (official model).",
                 {"prompt": prompt_property("What to change, or the image to make."),
                  "input_image": _uri("The image to edit."),
                  "aspect_ratio": enum_property(["match_input_image", *_ASPECT], "match_input_image",
                                                "Aspect ratio of the result."),
                  "seed": seed_property(),
                  "output_format": enum_property(["png", "jpg"], "png", "File format of the image."),
                  "safety_tolerance": int_property(0, 6, 2, "0 is the strictest; at most 2 with an input image."),
                  "prompt_upsampling": bool_property(False, "Let the service rewrite the prompt.")},
                 official=True),
        _curated("minimax/video-01", "text-to-video", "hailuo",
                 "MiniMax Hailuo video-01: 6 s 720p video from text, or from a first frame (official model).",
                 {"prompt": prompt_property("What the video shows."),
                  "prompt_optimizer": bool_property(True, "Let the service improve the prompt."),
                  "first_frame_image": _uri("Image to start the video from."),
                  "subject_reference": _uri("Image of a character to keep in the video.")}, official=True),
        _curated("stability-ai/stable-video-diffusion", "image-to-video", "svd",
                 "Stable Video Diffusion: a short video from one image.",
                 {"input_image": _uri("The image to animate."),
                  "video_length": enum_property(["14_frames_with_svd", "25_frames_with_svd_xt"],
                                                "14_frames_with_svd", "Frames to make (and the model that makes them)."),
                  "sizing_strategy": enum_property(["maintain_aspect_ratio", "crop_to_16_9", "use_image_dimensions"],
                                                   "maintain_aspect_ratio", "How the image is resized."),
                  "frames_per_second": int_property(5, 30, 6, "Frames per second of the video."),
                  "motion_bucket_id": int_property(1, 255, 127, "More motion with larger values."),
                  "cond_aug": number_property(0, None, 0.02, "Noise added to the conditioning image."),
                  "decoding_t": int_property(1, None, 14, "Frames decoded at a time (lower uses less memory)."),
                  "seed": seed_property()}, required=("input_image",), official=False),
        _curated("meta/musicgen", "text-to-audio", "musicgen",
                 "MusicGen: music from a text description, optionally continuing or following a melody.",
                 {"prompt": prompt_property("The music to make."),
                  "model_version": enum_property(["stereo-melody-large", "stereo-large", "melody-large", "large"],
                                                 "stereo-melody-large", "Which MusicGen model."),
                  "input_audio": _uri("Melody to follow, or audio to continue."),
                  "duration": int_property(1, 300, 8, "Seconds of audio."),
                  "continuation": bool_property(False, "Continue input_audio instead of following its melody."),
                  "normalization_strategy": enum_property(["loudness", "clip", "peak", "rms"], "loudness",
                                                          "How the audio is normalised."),
                  "top_k": int_property(0, None, 250, "Sample from the k most likely tokens."),
                  "top_p": number_property(0, 1, 0, "Sample from tokens within this cumulative probability (0: off)."),
                  "temperature": number_property(0, None, 1, "Randomness of the sampling."),
                  "classifier_free_guidance": int_property(0, None, 3, "How closely the music follows the prompt."),
                  "output_format": enum_property(["wav", "mp3"], "wav", "File format of the audio."),
                  "seed": seed_property()}, required=(), official=False),
        _curated("nightmareai/real-esrgan", "upscale", "real-esrgan",
                 "Real-ESRGAN upscaling (×1–10 from a ×4 network), optionally with GFPGAN face restoration.",
                 {"image": _uri("The image to upscale."),
                  "scale": number_property(0, 10, 4, "Output size ÷ input size."),
                  "face_enhance": bool_property(False, "Restore faces with GFPGAN as well.")},
                 required=("image",), official=False, factor=4),
        _curated("yorickvp/llava-13b", "image-to-text", "llava",
                 "LLaVA 13B: a vision LLM that describes or judges an image.",
                 {"image": _uri("The image to describe or judge (a product id of the studio works too)."),
                  "prompt": prompt_property("What the model is asked about the image."),
                  "max_tokens": int_property(0, None, 1024, "Most tokens written."),
                  "temperature": number_property(0, None, 0.2, "Randomness of the sampling."),
                  "top_p": number_property(0, 1, 1, "Sample from tokens within this cumulative probability.")},
                 required=("image", "prompt"), official=False),
        _curated("meta/meta-llama-3-8b-instruct", "text-to-text", "llama",
                 "Llama 3 8B Instruct: an instruction LLM that rewrites prompts (official model).",
                 {"prompt": prompt_property("What the model is asked."),
                  "system_prompt": string_property("Instructions put before the prompt.", default=""),
                  "max_tokens": int_property(1, None, 512, "Most tokens written."),
                  "temperature": number_property(0, 5, 0.6, "Randomness of the sampling."),
                  "top_p": number_property(0, 1, 0.9, "Sample from tokens within this cumulative probability."),
                  "seed": seed_property()}, official=True),
    )


CURATED: tuple[ModelInfo, ...] = _build_curated()
