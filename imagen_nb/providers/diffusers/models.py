"""Which models the diffusers provider can run, and where their files are.

A model name is one of:

- ``tiny``: the offline tiny model, built on first use (see :mod:`.tiny`);
- a local folder saved with ``save_pretrained`` (it holds ``model_index.json``);
- a single-file ``.safetensors`` / ``.ckpt`` checkpoint (see :mod:`.checkpoints`);
- a Hugging Face Hub id ``owner/name``, downloaded by diffusers on first load;
- the name of a folder or file in the provider's model folder (see :mod:`.folders`).

Nothing here imports torch or diffusers: listing and resolving models reads JSON files only.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ...core.errors import UnknownModelError
from ...core.records import ModelInfo
from .upscalers import (
    SR,
    TINY_ESRGAN,
    TINY_UPSCALER,
    UPSCALE_FAMILIES,
    UPSCALE_PIPELINES,
    folder_upscaler,
    hub_upscaler,
    tiny_esrgan_model,
    tiny_upscaler_model,
)
from .specs import FAMILIES, PIPELINE_FAMILIES, SD1, SD2, SDXL, text_to_image_spec, tiny_spec

PROVIDER = "diffusers"
TINY = "tiny"
TINY_DESCRIPTION = (
    "Tiny Stable Diffusion 1 with random weights, made locally on first use for offline work and"
    " tests: its images are noise."
)

#: The built-in tiny upscale models, by name.
TINY_UPSCALERS = {TINY_UPSCALER: tiny_upscaler_model, TINY_ESRGAN: tiny_esrgan_model}

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_XL = re.compile(r"(^|[^a-z])(sd)?xl($|[^a-z])|sdxl|xl[_-]")


@dataclass(frozen=True)
class ModelSource:
    """Where a model's files are: ``tiny`` (the provider's cache), a ``folder``, a ``file``, a ``hub`` id
    or ``sr`` weights (a super-resolution network; ``location`` empty for the tiny ESRGAN)."""

    kind: Literal["tiny", "folder", "file", "hub", "sr"]
    location: str
    pipeline_class: str


def tiny_model() -> ModelInfo:
    """The ModelInfo of ``diffusers:tiny`` (the folder is not built by this)."""
    return ModelInfo(PROVIDER, TINY, "text-to-image", SD1, tiny_spec(), TINY_DESCRIPTION)


def resolve_model(name: str) -> ModelInfo:
    """The ModelInfo for ``name`` (tiny, a local folder or a hub id); UnknownModelError otherwise."""
    if not isinstance(name, str) or not name.strip():
        raise UnknownModelError(f"diffusers model names are 'tiny', a local folder or a hub id 'owner/name'; got {name!r}.")
    name = name.strip()
    if name == TINY:
        return tiny_model()
    if name in TINY_UPSCALERS:
        return TINY_UPSCALERS[name]()
    folder = Path(os.path.expanduser(name))
    if folder.is_dir():
        return folder_model(folder)
    if folder.is_file():
        from .checkpoints import file_model

        return file_model(folder)
    if _looks_like_path(name):
        raise UnknownModelError(
            f"diffusers model {name!r}: no folder at {folder.resolve()}. Pass a folder saved with"
            " `save_pretrained` (it holds model_index.json), 'tiny', or a hub id 'owner/name'."
        )
    if _HUB_ID.match(name) and ".." not in name:
        return hub_upscaler(name) or hub_model(name)
    from ...core.errors import did_you_mean

    raise UnknownModelError(
        f"provider 'diffusers' has no model {name!r}.{did_you_mean(name, [TINY])} Use 'tiny', a local"
        " folder saved with `save_pretrained`, or a Hugging Face Hub id 'owner/name'."
    )


def folder_model(folder: Path) -> ModelInfo:
    """A ModelInfo for a diffusers folder; the family comes from its model_index.json."""
    folder = folder.resolve()
    index = folder / "model_index.json"
    if not index.is_file():
        raise UnknownModelError(
            f"{folder} is not a diffusers model folder: it has no model_index.json. Pass a folder saved"
            " with `save_pretrained`, or a single-file .safetensors/.ckpt checkpoint."
        )
    class_name = _read_json(index).get("_class_name", "?")
    upscaler = folder_upscaler(folder, class_name)
    if upscaler is not None:
        return upscaler
    family = PIPELINE_FAMILIES.get(class_name)
    if family == SD1 and _cross_attention_dim(folder) == 1024:
        family = SD2
    if family is None:
        raise UnknownModelError(
            f"{folder} holds a {class_name}; the diffusers provider runs"
            f" {', '.join(sorted(PIPELINE_FAMILIES) + sorted(UPSCALE_PIPELINES))} folders so far."
        )
    size = _native_size(folder)
    return ModelInfo(
        PROVIDER,
        str(folder),
        "text-to-image",
        family,
        text_to_image_spec(family, size=size),
        f"{family} from the local folder {folder.name} ({class_name}).",
    )


def hub_model(repo_id: str) -> ModelInfo:
    """A ModelInfo for a hub id, made without downloading (family from the local cache or the name)."""
    family = _cached_family(repo_id)
    how = "from its cached model_index.json"
    if family is None:
        family = SDXL if _XL.search(repo_id.lower()) else SD1
        how = "guessed from the name"
    return ModelInfo(
        PROVIDER,
        repo_id,
        "text-to-image",
        family,
        text_to_image_spec(family),
        f"{repo_id} from the Hugging Face Hub ({family}, {how}); downloaded on first use, which needs network.",
    )


def model_source(model: ModelInfo) -> ModelSource:
    """Where the files of ``model`` are (the tiny folder's path is filled in by the provider)."""
    if model.family in UPSCALE_FAMILIES:
        pipeline_class = UPSCALE_FAMILIES[model.family][0] or ""
        if model.family == SR:
            return ModelSource("sr", "" if model.name == TINY_ESRGAN else model.name, pipeline_class)
        if model.name == TINY_UPSCALER:
            return ModelSource("tiny", "", pipeline_class)
    else:
        pipeline_class = FAMILIES[model.family][0]
    if model.name == TINY:
        return ModelSource("tiny", "", pipeline_class)
    if Path(model.name).is_absolute():
        return ModelSource("file" if Path(model.name).is_file() else "folder", model.name, pipeline_class)
    return ModelSource("hub", model.name, pipeline_class)


def _looks_like_path(name: str) -> bool:
    return (
        name.startswith(("/", "~", "./", "../", ".\\", "..\\"))
        or "\\" in name
        or name.count("/") > 1
        or bool(re.match(r"^[A-Za-z]:[\\/]", name))
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UnknownModelError(f"cannot read {path}: {exc}") from exc
    return data if isinstance(data, dict) else {}


def _native_size(folder: Path) -> int | None:
    """Default image size of a folder's model: UNet sample size × the VAE's scale factor."""
    try:
        unet = json.loads((folder / "unet" / "config.json").read_text(encoding="utf-8"))
        vae = json.loads((folder / "vae" / "config.json").read_text(encoding="utf-8"))
        size = int(unet["sample_size"]) * 2 ** (len(vae["block_out_channels"]) - 1)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return size if 64 <= size <= 2048 and size % 8 == 0 else None


def _cross_attention_dim(folder: Path) -> int | None:
    """The width the folder's UNet attends to (768: SD 1, 1024: SD 2), from unet/config.json."""
    try:
        value = json.loads((folder / "unet" / "config.json").read_text(encoding="utf-8")).get("cross_attention_dim")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None


def _cached_family(repo_id: str) -> str | None:
    """The family read from the hub cache's model_index.json, when the model was downloaded before."""
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(repo_id, "model_index.json")
    except Exception:  # a broken cache or an old huggingface_hub: fall back to guessing
        return None
    if not isinstance(cached, str):
        return None
    try:
        class_name = json.loads(Path(cached).read_text(encoding="utf-8")).get("_class_name")
    except (OSError, ValueError, AttributeError):
        return None
    return PIPELINE_FAMILIES.get(class_name)
