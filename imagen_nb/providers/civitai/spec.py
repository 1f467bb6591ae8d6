"""The parameter spec of civitai's text-to-image step, with diffusers' names, and the LoRA list.

A model id is ``civitai:<checkpoint AIR>`` (``civitai:urn:air:sd1:checkpoint:civitai:4384@128713``).
Every checkpoint takes the same parameters; each property whose civitai name differs says so
in ``x-civitai``:

========================  ====================
ours                      civitai (step input)
========================  ====================
``negative_prompt``       ``negativePrompt``
``num_inference_steps``   ``steps``
``guidance_scale``        ``cfgScale``
``clip_skip``             ``clipSkip``
``num_images_per_prompt`` ``quantity``
``loras``                 ``additionalNetworks``
========================  ====================

``loras`` lists LoRAs by AIR with a weight (civitai's ``strength``)::

    loras=[{"air": "urn:air:sd1:lora:civitai:328553@368189", "weight": 0.8}]
    loras="urn:air:sd1:lora:civitai:328553@368189:0.8, urn:air:sd1:lora:civitai:1@2"
"""

from __future__ import annotations

import numbers
from typing import Any, Mapping

from ...core.air import ECOSYSTEM_FAMILIES, parse_ref
from ...core.errors import ValidationError
from ...core.records import ModelInfo
from ..spec import (
    enum_property, int_property, number_property, object_spec, prompt_property, seed_property, string_property,
)

NAME_EXT = "x-civitai"
#: Schedulers civitai's text-to-image step takes.
SCHEDULERS = ("EulerA", "Euler", "LMS", "Heun", "DPM2", "DPM2A", "DPM2SA", "DPM2M", "DPMSDE", "DPMFast",
              "DPMAdaptive", "LMSKarras", "DPM2Karras", "DPM2AKarras", "DPM2SAKarras", "DPM2MKarras",
              "DPMSDEKarras", "DDIM", "PLMS", "UniPC", "LCM", "DDPM", "DEIS")
MAX_LORAS = 8
WEIGHT_MIN, WEIGHT_MAX = -2.0, 2.0
#: Largest seed civitai's generator takes (it keeps seeds in a 32-bit signed int).
MAX_SEED = 2**31 - 1


def _named(prop: dict[str, Any], theirs: str) -> dict[str, Any]:
    prop[NAME_EXT] = theirs
    return prop


def text_to_image_spec(family: str) -> dict[str, Any]:
    """The spec of one checkpoint (sizes default to the family's native one)."""
    side = 1024 if family in ("sdxl", "flux") else 512
    return object_spec({
        "prompt": prompt_property(),
        "negative_prompt": _named(string_property("What the image should not show.", title="Negative prompt"),
                                  "negativePrompt"),
        "width": int_property(64, 2048, side, "Image width in pixels (a multiple of 8).", 8, title="Width"),
        "height": int_property(64, 2048, side, "Image height in pixels (a multiple of 8).", 8, title="Height"),
        "num_inference_steps": _named(int_property(1, 100, 25, "Denoising steps.", title="Steps"), "steps"),
        "guidance_scale": _named(number_property(0, 30, 7.0, "How closely the image follows the prompt.",
                                                 title="Guidance scale"), "cfgScale"),
        "scheduler": enum_property(list(SCHEDULERS), "EulerA", "The sampler civitai runs.", title="Scheduler"),
        "clip_skip": _named(int_property(1, 12, 2 if family == "stable-diffusion-1" else 1,
                                         "CLIP layers skipped from the end.", title="Clip skip"), "clipSkip"),
        "seed": seed_property(maximum=MAX_SEED),
        "num_images_per_prompt": _named(int_property(1, 4, 1, "Images made by this generation.", title="Images"),
                                        "quantity"),
        "loras": _named(lora_property(), "additionalNetworks"),
    }, required=["prompt"], title="civitai text to image")


def lora_property() -> dict[str, Any]:
    """The ``loras`` property: LoRAs by AIR, each with its weight."""
    return {
        "type": "array", "title": "LoRAs",
        "description": ("LoRAs by AIR with a weight: {\"air\": \"urn:air:sd1:lora:civitai:328553@368189\", "
                        "\"weight\": 0.8}; the text form \"<air>:0.8, <air>\" works too. Their ecosystem must be "
                        "the checkpoint's."),
        "items": {"type": "object", "properties": {"air": {"type": "string"}, "weight": {"type": "number"}},
                  "required": ["air"], "additionalProperties": False},
        "maxItems": MAX_LORAS,
    }


def model_info(air: str, *, description: str = "") -> ModelInfo:
    """The ModelInfo of a checkpoint AIR (ValidationError for anything else)."""
    ref = parse_ref(air, param="model")
    if ref.type != "checkpoint" or ref.version_id is None or not air.lower().startswith("urn:air:"):
        raise ValidationError("model", f"civitai models are named by a checkpoint AIR with its version, "
                                       f"e.g. civitai:urn:air:sd1:checkpoint:civitai:4384@128713; got {air!r}")
    family = ref.family or "other"
    return ModelInfo("civitai", air, "text-to-image", family, text_to_image_spec(family),
                     description or f"civitai checkpoint {ref.model_id}@{ref.version_id} ({ref.ecosystem}), "
                                    "run on civitai's generator")


def normalise_loras(value: Any, ecosystem: str | None) -> list[dict[str, Any]]:
    """``loras`` as ``[{"air": …, "weight": …}]``; ValidationError naming the entry otherwise.

    A LoRA whose ecosystem is not the checkpoint's (an SDXL LoRA on an SD 1.5 checkpoint) is
    refused here, before anything is sent.
    """
    if value is None or value == "" or value == []:
        return []
    if isinstance(value, str):
        items: list[Any] = [p.strip() for p in value.replace("+", ",").split(",") if p.strip()]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise ValidationError("loras", "loras takes a list of {\"air\": …, \"weight\": …} or text \"<air>:0.8, <air>\"")
    if len(items) > MAX_LORAS:
        raise ValidationError("loras", f"at most {MAX_LORAS} LoRAs per generation; {len(items)} given")
    out = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            air, weight = _split_weight(item, i)
        elif isinstance(item, Mapping):
            unknown = set(item) - {"air", "weight"}
            if unknown:
                raise ValidationError("loras", f"loras[{i}] has unknown keys {sorted(unknown)}; use air and weight")
            air, weight = item.get("air"), item.get("weight", 1.0)
        else:
            raise ValidationError("loras", f"loras[{i}] is {type(item).__name__}; give an AIR or {{\"air\", \"weight\"}}")
        ref = parse_ref(str(air or ""), param="loras")
        if ref.type not in ("lora", "lycoris", "locon", "dora") or ref.version_id is None or ref.ecosystem is None:
            raise ValidationError("loras", f"loras[{i}] must be a LoRA AIR with its version "
                                           f"(urn:air:sd1:lora:civitai:<model>@<version>); got {air!r}")
        if ecosystem and ECOSYSTEM_FAMILIES.get(ref.ecosystem) != ECOSYSTEM_FAMILIES.get(ecosystem):
            raise ValidationError("loras", f"loras[{i}] {air} is made for {ref.ecosystem}, but the checkpoint is "
                                           f"{ecosystem}: pick a LoRA of the checkpoint's ecosystem")
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real) or not WEIGHT_MIN <= weight <= WEIGHT_MAX:
            raise ValidationError("loras", f"loras[{i}] weight must be a number from {WEIGHT_MIN:g} to {WEIGHT_MAX:g}; "
                                           f"got {weight!r}")
        out.append({"air": str(air).strip(), "weight": float(weight)})
    return out


def _split_weight(text: str, i: int) -> tuple[str, float]:
    try:
        parse_ref(text, param="loras")
        return text, 1.0
    except ValidationError:
        head, _, tail = text.rpartition(":")
        try:
            return head, float(tail)
        except ValueError:
            raise ValidationError("loras", f"loras[{i}] {text!r} is not an AIR with an optional :weight") from None


def step_input(spec: Mapping[str, Any], air: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The ``input`` of a textToImage step: civitai's names, LoRAs as additional networks."""
    props = spec.get("properties") or {}
    out: dict[str, Any] = {"model": air}
    for name, value in params.items():
        if value is None or name not in props:
            continue
        if name == "loras":
            if value:
                out["additionalNetworks"] = {item["air"]: {"type": "Lora", "strength": item["weight"]}
                                             for item in value}
            continue
        out[props[name].get(NAME_EXT, name)] = value
    return out


#: Checkpoints listed before any lookup (the AIRs civitai's own SDK documentation uses).
CURATED = (
    model_info("urn:air:sd1:checkpoint:civitai:4384@128713",
               description="DreamShaper 8 (SD 1.5) on civitai's generator"),
    model_info("urn:air:sdxl:checkpoint:civitai:101055@128078",
               description="Stable Diffusion XL 1.0 base on civitai's generator"),
)
