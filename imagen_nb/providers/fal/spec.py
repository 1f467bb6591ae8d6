"""Parameter specs of fal models: the curated ones, written by hand, and those read from fal's OpenAPI.

Our specs use diffusers' parameter names; each property whose fal name differs says so in an
``x-fal`` annotation, so the mapping travels with the spec (also through the Studio's spec cache):

=========================  ===========================  ====================================
ours                       fal                          why
=========================  ===========================  ====================================
``num_images_per_prompt``  ``num_images``               diffusers' name
``image``                  ``image_url``                a local path is uploaded, a URL passed
``num_inference_steps``    ``steps``                    (apps such as stable-audio)
``width`` / ``height``     ``image_size.width/height``  fal's ``image_size`` object; its named
                                                        presets (``square_hd``…) become defaults
=========================  ===========================  ====================================

``x-fal-file: true`` marks a property whose value may be a local file (uploaded to fal's CDN
before the request), ``x-fal-as: "string"`` one that fal wants as a string (fast-lightning-sdxl's
step counts). JSON Schema validators ignore these annotations.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

from ...core.errors import ProviderError
from ...core.records import MODEL_TYPES, ModelInfo
from ..spec import (
    bool_property, enum_property, int_property, number_property, object_spec, prompt_property,
    seed_property, string_property,
)

#: fal's named image sizes, in pixels (width, height).
IMAGE_SIZE_PRESETS = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}

#: fal name → our (diffusers) name, applied to fetched specs when ours is not taken already.
RENAMES = {"num_images": "num_images_per_prompt", "image_url": "image", "steps": "num_inference_steps"}

#: Input fields fal handles for the transport, not the model: never shown as parameters.
_TRANSPORT_FIELDS = {"sync_mode"}

_KEEP = ("type", "enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
         "multipleOf", "minLength", "maxLength", "pattern", "minItems", "maxItems", "uniqueItems",
         "default", "title", "description")


# ---- curated models ---------------------------------------------------------------------

def _fal(prop: dict[str, Any], name: str | None = None, **extra: Any) -> dict[str, Any]:
    """``prop`` annotated with its fal name (when it differs) and other ``x-fal-*`` marks."""
    if name:
        prop["x-fal"] = name
    prop.update({f"x-fal-{k.rstrip('_').replace('_', '-')}": v for k, v in extra.items()})
    return prop


def _size(width: int, height: int) -> dict[str, dict[str, Any]]:
    return {
        "width": _fal(int_property(64, 4096, width, "Image width in pixels.", 8, title="Width"),
                      "image_size.width"),
        "height": _fal(int_property(64, 4096, height, "Image height in pixels.", 8, title="Height"),
                       "image_size.height"),
    }


def _images(maximum: int) -> dict[str, Any]:
    return _fal(int_property(1, maximum, 1, "Images made per generation.", title="Images"), "num_images")


def _image_input(description: str) -> dict[str, Any]:
    return _fal(string_property(description, title="Image"), "image_url", file=True)


def _text_common() -> dict[str, dict[str, Any]]:
    return {
        "system_prompt": string_property("Instructions put before the prompt.", default="", title="System prompt"),
        # "model" is studio.order's own first argument, so the routed model is "llm" here
        "llm": _fal(string_property("The model OpenRouter routes to (e.g. google/gemini-2.5-flash).",
                                    default="google/gemini-2.5-flash", title="LLM"), "model"),
        "temperature": number_property(0, 2, 0.7, "Sampling temperature.", title="Temperature"),
        "max_tokens": int_property(1, 32768, 512, "Most tokens written.", title="Max tokens"),
    }


def _vision_image() -> dict[str, Any]:
    # One image per generation here (an order over several images is one generation each); fal
    # takes a list, so the value is sent as [url] (x-fal-list).
    return _fal(string_property("The image to describe or judge: a product id, a local file (uploaded) or a URL.",
                                title="Image"), "image_urls", file=True, list=True)


_SAFETY = bool_property(True, "Let fal blur images its safety checker flags.", title="Safety checker")
_FORMAT = enum_property(["png", "jpeg"], "png", "File format fal returns (png keeps every pixel).",
                        title="Format")
_NEG = string_property("What the image should not show.", default="", title="Negative prompt")
_LTX_NEG = ("low quality, worst quality, deformed, distorted, disfigured, motion smear, motion artifacts, "
            "fused fingers, bad anatomy, weird hand, ugly")


def _sdxl(steps_max: int = 65) -> dict[str, dict[str, Any]]:
    return {
        "prompt": prompt_property(),
        "negative_prompt": _NEG,
        **_size(1024, 1024),
        "num_inference_steps": int_property(1, steps_max, 25, "Denoising steps.", title="Steps"),
        "guidance_scale": number_property(0, 20, 7.5, "How closely to follow the prompt.", title="Guidance"),
        "seed": seed_property(),
        "num_images_per_prompt": _images(8),
        "enable_safety_checker": _SAFETY,
        "format": _FORMAT,
    }


def _flux(steps: int, steps_max: int, guidance: bool) -> dict[str, dict[str, Any]]:
    props = {
        "prompt": prompt_property(),
        **_size(1024, 768),
        "num_inference_steps": int_property(1, steps_max, steps, "Denoising steps.", title="Steps"),
    }
    if guidance:
        props["guidance_scale"] = number_property(1, 20, 3.5, "How closely to follow the prompt.",
                                                  title="Guidance")
    props.update({"seed": seed_property(), "num_images_per_prompt": _images(4),
                  "enable_safety_checker": _SAFETY,
                  "output_format": enum_property(["png", "jpeg"], "png", _FORMAT["description"],
                                                 title="Format")})
    return props


def _lightning() -> dict[str, dict[str, Any]]:
    props = _sdxl()
    del props["negative_prompt"], props["guidance_scale"]
    props["num_inference_steps"] = _fal(
        enum_property([1, 2, 4, 8], 4, "Denoising steps (the distilled model knows these).", title="Steps"),
        as_="string")
    return props


def _img2img() -> dict[str, dict[str, Any]]:
    props = _sdxl()
    del props["width"], props["height"]  # the output takes the input image's size
    return {"image": _image_input("The starting image: a local file (uploaded to fal) or a URL."),
            "prompt": props.pop("prompt"),
            "strength": number_property(0.05, 1, 0.95, "How much to change the image (1 = ignore it).",
                                        title="Strength"),
            **props}


def _model(name: str, kind: str, family: str, props: Mapping[str, Any], description: str,
           required: tuple[str, ...] = ("prompt",), factor: int | None = None) -> ModelInfo:
    spec = object_spec(props, required=required, title=f"{name} on fal")
    if factor:
        spec["x-upscale-factor"] = factor
    return ModelInfo(provider="fal", name=name, type=kind, family=family, description=description, spec=spec)


def _esrgan() -> dict[str, dict[str, Any]]:
    return {
        "image": _image_input("The image to upscale: a local file (uploaded to fal) or a URL."),
        "scale": number_property(1, 8, 2, "Output size ÷ input size.", title="Scale"),
        "model": enum_property(["RealESRGAN_x4plus", "RealESRGAN_x2plus", "RealESRGAN_x4plus_anime_6B",
                                "RealESRGAN_x4_v3", "RealESRGAN_x4_wdn_v3", "RealESRGAN_x4_anime_v3"],
                               "RealESRGAN_x4plus", "Which Real-ESRGAN network.", title="Network"),
        "face": bool_property(False, "Restore faces with GFPGAN as well.", title="Faces"),
        "tile": int_property(0, None, 0, "Tile size for large images (0: none).", title="Tile"),
        "output_format": enum_property(["png", "jpeg"], "png", _FORMAT["description"], title="Format"),
    }


def _clarity() -> dict[str, dict[str, Any]]:
    return {
        "image": _image_input("The image to upscale: a local file (uploaded to fal) or a URL."),
        "scale": _fal(number_property(1, 4, 2, "Output size ÷ input size.", title="Scale"), "upscale_factor"),
        "prompt": prompt_property("What the image shows (steers the detail added).",
                                  default="masterpiece, best quality, highres"),
        "negative_prompt": string_property("What the upscaled image should not show.",
                                           default="(worst quality, low quality, normal quality:2)",
                                           title="Negative prompt"),
        "creativity": number_property(0, 1, 0.35, "How far the detail may stray from the image.",
                                      title="Creativity"),
        "resemblance": number_property(0, 1, 0.6, "How closely the result keeps the image's structure.",
                                       title="Resemblance"),
        "guidance_scale": number_property(0, 20, 4, "How closely to follow the prompt.", title="Guidance"),
        "num_inference_steps": int_property(4, 50, 18, "Denoising steps.", title="Steps"),
        "seed": seed_property(),
        "enable_safety_checker": _SAFETY,
    }


CURATED: tuple[ModelInfo, ...] = (
    _model("fal-ai/fast-sdxl", "text-to-image", "sdxl", _sdxl(), "SDXL on fal's fast runtime."),
    _model("fal-ai/fast-lightning-sdxl", "text-to-image", "sdxl", _lightning(),
           "SDXL Lightning: an image in 1-8 steps."),
    _model("fal-ai/flux/schnell", "text-to-image", "flux", _flux(4, 12, guidance=False),
           "FLUX.1 [schnell]: a 12B model distilled to a few steps."),
    _model("fal-ai/flux/dev", "text-to-image", "flux", _flux(28, 50, guidance=True),
           "FLUX.1 [dev]: a 12B guidance-distilled model."),
    _model("fal-ai/fast-sdxl/image-to-image", "image-to-image", "sdxl", _img2img(),
           "SDXL image-to-image on fal's fast runtime.", required=("image", "prompt")),
    _model("fal-ai/ltx-video", "text-to-video", "ltx-video", {
        "prompt": prompt_property("What the video shows."),
        "negative_prompt": string_property("What the video should not show.", default=_LTX_NEG,
                                           title="Negative prompt"),
        "num_inference_steps": int_property(1, 50, 30, "Denoising steps.", title="Steps"),
        "guidance_scale": number_property(1, 10, 3, "How closely to follow the prompt.", title="Guidance"),
        "seed": seed_property(),
    }, "LTX-Video: a short clip from a prompt."),
    _model("fal-ai/stable-video", "image-to-video", "svd", {
        "image": _image_input("The first frame: a local file (uploaded to fal) or a URL."),
        "motion_bucket_id": int_property(1, 255, 127, "More motion with higher values.", title="Motion"),
        "cond_aug": number_property(0, 10, 0.02, "Noise added to the first frame.", title="Noise"),
        "fps": int_property(10, 100, 25, "Frames per second of the clip.", title="FPS"),
        "seed": seed_property(),
    }, "Stable Video Diffusion: a clip that starts at an image.", required=("image",)),
    _model("fal-ai/stable-audio", "text-to-audio", "stable-audio", {
        "prompt": prompt_property("What the audio sounds like."),
        "seconds_start": int_property(0, 47, 0, "Where the clip starts, in seconds.", title="Start"),
        "seconds_total": int_property(0, 47, 30, "Length of the clip, in seconds.", title="Length"),
        "num_inference_steps": _fal(int_property(1, 1000, 100, "Denoising steps.", title="Steps"), "steps"),
    }, "Stable Audio Open: sound and music from a prompt."),
    _model("fal-ai/esrgan", "upscale", "real-esrgan", _esrgan(),
           "Real-ESRGAN upscaling on fal (×1–8; the networks make ×2 or ×4).", required=("image",), factor=4),
    _model("fal-ai/clarity-upscaler", "upscale", "clarity", _clarity(),
           "Clarity upscaler: diffusion that adds detail while upscaling (×1–4), steered by a prompt.",
           required=("image",), factor=4),
    _model("openrouter/router/vision", "image-to-text", "openrouter", {
        "image": _vision_image(),
        "prompt": prompt_property("What the vision model is asked about the image."),
        **_text_common(),
    }, "Any vision LLM through OpenRouter on fal: describes or judges an image.", required=("image", "prompt")),
    _model("openrouter/router", "text-to-text", "openrouter", {
        "prompt": prompt_property("What the language model is asked."),
        **_text_common(),
    }, "Any LLM through OpenRouter on fal: rewrites prompts."),
    _model("fal-ai/florence-2-large/detailed-caption", "image-to-text", "florence-2", {
        "image": _image_input("The image to caption: a product id, a local file (uploaded) or a URL."),
    }, "Florence-2 large: a detailed caption of an image.", required=("image",)),
)

#: Fields of a fal result that hold a text model's answer, in the order looked for.
TEXT_FIELDS = ("output", "results", "text", "caption", "response")


# ---- specs from fal's OpenAPI -----------------------------------------------------------

def model_from_openapi(doc: Any, app: str) -> ModelInfo:
    """The model ``fal:<app>`` described by fal's OpenAPI document of the endpoint.

    Raises ProviderError when the document has no JSON input schema for the endpoint.
    """
    if not isinstance(doc, Mapping):
        raise ProviderError(f"fal's OpenAPI for {app} is not a JSON object")
    schema = _input_schema(doc, app)
    props_in = schema.get("properties") or {}
    order = [n for n in schema.get("x-fal-order-properties", []) if n in props_in]
    order += [n for n in props_in if n not in order]
    taken = set(props_in)
    props: dict[str, dict[str, Any]] = {}
    names: dict[str, str] = {}  # fal name → ours
    for fal_name in order:
        if fal_name in _TRANSPORT_FIELDS:
            continue
        prop = _convert(props_in[fal_name], doc)
        if fal_name == "image_size":
            sized = _image_size(prop)
            if sized:
                props.update(sized)
                names[fal_name] = "width"
                continue
        ours = RENAMES.get(fal_name, fal_name)
        if ours != fal_name and ours in taken:
            ours = fal_name
        if ours != fal_name:
            prop["x-fal"] = fal_name
        if fal_name.endswith("_url") and "string" in _types(prop):
            prop["x-fal-file"] = True
        props[ours] = prop
        names[fal_name] = ours
    required = [names[n] for n in schema.get("required", []) if n in names]
    extra = schema.get("additionalProperties")
    spec = object_spec(props, required=required, title=f"{app} on fal",
                       additional=extra is True or isinstance(extra, Mapping) and bool(extra))
    try:
        from ..spec import check_spec

        check_spec(spec)
    except Exception as exc:
        raise ProviderError(f"fal's OpenAPI for {app} gave a parameter spec that is not valid JSON Schema "
                            f"({exc.__class__.__name__}: {str(exc).splitlines()[0]})") from exc
    info = doc.get("info") if isinstance(doc.get("info"), Mapping) else {}
    meta = info.get("x-fal-metadata") if isinstance(info.get("x-fal-metadata"), Mapping) else {}
    kind = meta.get("category") if meta.get("category") in MODEL_TYPES else _guess_type(props)
    description = str(info.get("description") or schema.get("description") or f"{app} on fal").strip()
    return ModelInfo(provider="fal", name=app, type=kind, family=_guess_family(app),
                     spec=spec, description=description.splitlines()[0][:200])


def _input_schema(doc: Mapping[str, Any], app: str) -> Mapping[str, Any]:
    """The request body schema of the endpoint's submit operation (``POST /<app>``)."""
    paths = doc.get("paths") or {}
    candidates = []
    for path, ops in paths.items():
        if not isinstance(ops, Mapping) or "/requests/" in path or not isinstance(ops.get("post"), Mapping):
            continue
        body = ops["post"].get("requestBody") or {}
        schema = ((body.get("content") or {}).get("application/json") or {}).get("schema")
        if isinstance(schema, Mapping):
            candidates.append((path.strip("/") != app, _resolve(schema, doc)))
    candidates.sort(key=lambda c: c[0])  # the path named after the app first
    for _, schema in candidates:
        if isinstance(schema, Mapping) and isinstance(schema.get("properties"), Mapping):
            return schema
    raise ProviderError(f"fal's OpenAPI for {app} has no JSON input schema for POST /{app}; "
                        "the endpoint may not take JSON input")


def _resolve(node: Any, doc: Mapping[str, Any], depth: int = 0) -> Any:
    """Follow local ``$ref`` pointers (``#/components/schemas/X``)."""
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str) and depth < 32:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise ProviderError(f"fal's OpenAPI refers to an external schema {ref!r}")
        target: Any = doc
        for part in ref[2:].split("/"):
            target = target.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(target, Mapping) else None
        if target is None:
            raise ProviderError(f"fal's OpenAPI refers to a missing schema {ref!r}")
        extra = {k: v for k, v in node.items() if k != "$ref"}
        node = {**target, **extra}
        depth += 1
    return node


def _convert(node: Any, doc: Mapping[str, Any], depth: int = 0) -> dict[str, Any]:
    """One OpenAPI property schema as plain draft 2020-12 JSON Schema (no refs, no nullable)."""
    node = _resolve(node, doc)
    if not isinstance(node, Mapping) or depth > 8:
        return {}
    out = {k: copy.deepcopy(node[k]) for k in _KEEP if k in node}
    for bound in ("Minimum", "Maximum"):  # OpenAPI 3.0 spells exclusive bounds as booleans
        flag = out.get(f"exclusive{bound}")
        if isinstance(flag, bool):
            del out[f"exclusive{bound}"]
            if flag and bound.lower() in out:
                out[f"exclusive{bound}"] = out.pop(bound.lower())
    for combiner in ("anyOf", "oneOf"):
        if isinstance(node.get(combiner), list):
            members = [_convert(m, doc, depth + 1) for m in node[combiner]]
            members = [m for m in members if m and m.get("type") != "null"]
            if len(members) == 1:
                out = {**members[0], **{k: v for k, v in out.items() if k in ("title", "description", "default")}}
            elif members:
                out["anyOf"] = members
    if isinstance(node.get("allOf"), list) and len(node["allOf"]) == 1:
        out = {**_convert(node["allOf"][0], doc, depth + 1), **out}
    if "items" in node:
        out["items"] = _convert(node["items"], doc, depth + 1)
    if isinstance(node.get("properties"), Mapping):
        out["properties"] = {k: _convert(v, doc, depth + 1) for k, v in node["properties"].items()}
        if node.get("required"):
            out["required"] = list(node["required"])
    if "examples" in node and "description" not in out and isinstance(node["examples"], list) and node["examples"]:
        out["description"] = f"e.g. {node['examples'][0]!r}"
    return out


def _image_size(prop: Mapping[str, Any]) -> dict[str, dict[str, Any]] | None:
    """fal's ``image_size`` (an object or a preset name) as our ``width`` and ``height``."""
    members = prop.get("anyOf") or [prop]
    shape = next((m for m in members if isinstance(m.get("properties"), Mapping)
                  and {"width", "height"} <= set(m["properties"])), None)
    if shape is None:
        return None
    default = prop.get("default")
    dims: tuple[int, int] | None = None
    if isinstance(default, str):
        dims = IMAGE_SIZE_PRESETS.get(default)
    elif isinstance(default, Mapping) and {"width", "height"} <= set(default):
        dims = (default["width"], default["height"])
    out = {}
    for i, side in enumerate(("width", "height")):
        p = {k: v for k, v in shape["properties"][side].items() if k != "default"}
        p.setdefault("type", "integer")
        p["title"] = side.title()
        p.setdefault("description", f"Image {side} in pixels.")
        if dims:
            p["default"] = dims[i]
        p["x-fal"] = f"image_size.{side}"
        out[side] = p
    return out


def _types(prop: Mapping[str, Any]) -> list[str]:
    kind = prop.get("type", [])
    return [kind] if isinstance(kind, str) else list(kind)


def _guess_type(props: Mapping[str, Any]) -> str:
    return "image-to-image" if "image" in props else "text-to-image"


def _guess_family(app: str) -> str:
    lowered = app.lower()
    for word, family in (("flux", "flux"), ("sdxl", "sdxl"), ("sd3", "sd3"), ("stable-diffusion-v3", "sd3"),
                         ("stable-cascade", "stable-cascade"), ("ltx", "ltx-video")):
        if word in lowered:
            return family
    return "other"
