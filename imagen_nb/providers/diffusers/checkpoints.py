"""Single-file checkpoints (``.safetensors`` / ``.ckpt``, the A1111 / ComfyUI format): which family a
file holds, read from its tensor names and shapes without loading weights, and loading one with
diffusers' ``from_single_file``.

A single file holds the weights only. diffusers builds the pipeline around them from the
family's diffusers configs (component configs, tokenizer, scheduler), which it fetches from the
Hugging Face Hub unless told where they are. Offline, they come from a local diffusers folder
of the same family (``config``) or from the Hugging Face cache; when neither is there the load
fails at once and says what to do, rather than waiting on a network that is not there.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlparse

from ...core.errors import ProviderError, UnknownModelError
from ...core.records import ModelInfo
from ..weightfiles import read_safetensors_header, tensor_shapes
from .specs import FAMILIES, SD1, SD2, SDXL, text_to_image_spec

SUFFIXES = (".safetensors", ".ckpt")

#: family → the hub repo whose configs diffusers uses for a single file of that family.
CONFIG_REPOS = {
    SD1: "stable-diffusion-v1-5/stable-diffusion-v1-5",
    SD2: "stabilityai/stable-diffusion-2-1",
    SDXL: "stabilityai/stable-diffusion-xl-base-1.0",
}
#: Cross-attention width (the text embedding size the UNet attends to) → family.
_CROSS_DIM = {768: SD1, 1024: SD2, 2048: SDXL}
_XL_NAME = re.compile(r"(^|[^a-z])(sd)?xl($|[^a-z])|sdxl|xl[_-]|pony|illustrious")
_FIRST_CONV = ("model.diffusion_model.input_blocks.0.0.weight", "conv_in.weight")
#: Text encoder key prefix of an original-format checkpoint → (what it is, family): SD 1 has a
#: transformers CLIP, SD 2 an OpenCLIP model.
_TEXT_ENCODER_FAMILY = {"cond_stage_model.transformer.": ("CLIP (cond_stage_model.transformer)", SD1),
                        "cond_stage_model.model.": ("OpenCLIP (cond_stage_model.model)", SD2)}


@dataclass(frozen=True)
class CheckpointInfo:
    """What a checkpoint's header says: its family, how that was found, and the UNet's widths
    (used to pick a config folder that fits)."""

    family: str
    how: str
    cross_attention_dim: int | None = None
    base_channels: int | None = None



def detect_family(shapes: Mapping[str, Any], where: str = "the checkpoint") -> CheckpointInfo:
    """The family of a checkpoint from its tensor names and shapes (name → shape list).

    SD 1 and SD 2 differ in the width of cross-attention (768, 1024: ``…attn2.to_k.weight`` is
    [channels, width]); SDXL has a second text encoder (``conditioner.embedders.1``) and an
    added embedding (``label_emb`` / ``add_embedding``) and attends to 2048. A width of no released
    model (a small or custom build, such as a single-file copy of the tiny model) is told by the
    text encoder's layout (SD 1: CLIP under ``cond_stage_model.transformer``, SD 2: OpenCLIP
    under ``cond_stage_model.model``); such a file loads only with the configs of a diffusers
    folder of the same widths (:func:`config_fits`), never the hub's. Raises
    UnknownModelError naming what the file seems to hold when it is no family this provider runs.
    """
    keys = [k for k in shapes if k != "__metadata__"]
    first_conv = next((shapes[k] for k in _FIRST_CONV if k in shapes), None)
    base = int(first_conv[0]) if first_conv else None
    if first_conv and len(first_conv) > 1 and int(first_conv[1]) == 9:
        raise UnknownModelError(f"{where} is an inpainting checkpoint (its UNet takes 9 channels); the diffusers"
                                " provider runs text-to-image checkpoints so far.")
    if any(k.startswith(("double_blocks.", "model.diffusion_model.double_blocks.")) for k in keys):
        raise UnknownModelError(f"{where} holds a Flux transformer; the diffusers provider runs Stable Diffusion 1,"
                                " 2 and SDXL checkpoints so far.")
    if any("joint_blocks." in k for k in keys):
        raise UnknownModelError(f"{where} holds a Stable Diffusion 3 transformer; the diffusers provider runs"
                                " Stable Diffusion 1, 2 and SDXL checkpoints so far.")
    cross = next((shapes[k] for k in keys if k.endswith("attn2.to_k.weight")), None)
    width = int(cross[-1]) if cross else None
    xl_text = any(k.startswith("conditioner.embedders.1.") for k in keys)
    xl_unet = any(k.startswith(("model.diffusion_model.label_emb.", "add_embedding.")) for k in keys)
    if xl_text or (xl_unet and width == 2048):
        evidence = "a second text encoder (conditioner.embedders.1)" if xl_text else "an added embedding"
        return CheckpointInfo(SDXL, f"{evidence}, cross-attention {width}", width, base)
    if xl_unet and width == 1280:
        raise UnknownModelError(f"{where} is an SDXL refiner (cross-attention 1280); the diffusers provider runs"
                                " SDXL base checkpoints so far.")
    if width in _CROSS_DIM:
        return CheckpointInfo(_CROSS_DIM[width], f"cross-attention {width}", width, base)
    if width is not None and (text := _TEXT_ENCODER_FAMILY.get(_text_encoder(keys))) is not None:
        # A width of no released model (a small or custom build): the text encoder's layout tells the
        # family; it loads with the configs of a diffusers folder of the same widths (see config_fits).
        what, family = text
        return CheckpointInfo(family, f"a {what} text encoder, cross-attention {width}", width, base)
    if width is None:
        raise UnknownModelError(f"{where} has no UNet cross-attention weights (no '…attn2.to_k.weight'): it is not"
                                " a Stable Diffusion checkpoint (a LoRA, a VAE or an embedding?).")
    raise UnknownModelError(f"{where} has cross-attention width {width}; known families are 768 (Stable"
                            " Diffusion 1), 1024 (Stable Diffusion 2) and 2048 (SDXL).")


def _text_encoder(keys: list[str]) -> str | None:
    """The text encoder prefix (a key of _TEXT_ENCODER_FAMILY) the keys use, or None."""
    return next((p for p in _TEXT_ENCODER_FAMILY if any(k.startswith(p) for k in keys)), None)


def checkpoint_info(path: str | os.PathLike) -> CheckpointInfo:
    """The family of a ``.safetensors`` file from its header; of a ``.ckpt`` (a pickle, which cannot
    be read without loading it) guessed from the file name."""
    path = Path(path)
    if path.suffix == ".ckpt":
        family = SDXL if _XL_NAME.search(path.stem.lower()) else SD1
        return CheckpointInfo(family, "guessed from the file name")
    if path.suffix != ".safetensors":
        raise UnknownModelError(f"{path} is not a checkpoint: single-file models end in .safetensors or .ckpt.")
    try:
        header = read_safetensors_header(path)
    except (OSError, ValueError) as exc:
        raise UnknownModelError(f"cannot read {path} as a checkpoint: {exc}.") from exc
    shapes = tensor_shapes(header)
    return detect_family(shapes, str(path))


def file_model(path: str | os.PathLike, name: str | None = None) -> ModelInfo:
    """A ModelInfo for a single-file checkpoint (named by its absolute path unless ``name`` is given)."""
    path = Path(path).resolve()
    info = checkpoint_info(path)
    return ModelInfo(
        "diffusers",
        name or str(path),
        "text-to-image",
        info.family,
        text_to_image_spec(info.family),
        f"{info.family} single-file checkpoint {path.name} ({info.how}); loaded with from_single_file, which"
        " needs that family's diffusers configs (a local diffusers folder of the family, the Hugging Face"
        " cache or the hub).",
    )


def usual_widths(info: CheckpointInfo) -> bool:
    """True when the checkpoint attends at its family's released width (768, 1024, 2048), so the
    family's hub configs fit it; False for a small or custom build."""
    return info.cross_attention_dim is None or _CROSS_DIM.get(info.cross_attention_dim) == info.family


def unusual_widths_help(model_id: str, path: str | os.PathLike, info: CheckpointInfo) -> str:
    """The error for a checkpoint of unusual widths with no diffusers folder whose configs fit it."""
    return (
        f"cannot load {model_id}: the single file {Path(path).name} is a {info.family} build of unusual widths"
        f" (cross-attention {info.cross_attention_dim}, first UNet block {info.base_channels} channels), which"
        " the hub's configs do not fit. Put a diffusers folder of the same architecture in the model folder"
        " (`studio.add_model(folder)`; its configs and tokenizer are used) or name one in the diffusers setting"
        f" single_file_configs={{{info.family!r}: '/path/to/folder'}}."
    )


def config_fits(folder: Path, info: CheckpointInfo) -> bool:
    """True when ``folder`` (a diffusers folder) has a UNet of the checkpoint's widths, so its configs
    can build a pipeline around the checkpoint's weights."""
    try:
        unet = json.loads((folder / "unet" / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    cross = unet.get("cross_attention_dim")
    if isinstance(cross, list):
        cross = cross[0] if cross else None
    channels = unet.get("block_out_channels") or [None]
    return ((info.cross_attention_dim is None or cross == info.cross_attention_dim)
            and (info.base_channels is None or channels[0] == info.base_channels))


def load_single_file(model_id: str, path: str, family: str, device: str, dtype: str,
                     config: str | os.PathLike | None = None):
    """Load a single-file checkpoint with ``from_single_file`` onto ``device``; a LoadedPipeline.

    ``config`` is a local diffusers folder of the same family; without it the family's configs
    must be in the Hugging Face cache or the hub reachable, else ProviderError at once.
    """
    from .device import check_device
    from .pipelines import _dtype_argument, quiet_progress_bars, ready

    repo = CONFIG_REPOS.get(family)
    kwargs: dict[str, Any] = {}
    if config is not None:
        kwargs.update(config=str(config), local_files_only=True)
    elif repo is not None and _in_hf_cache(repo):
        kwargs.update(config=repo, local_files_only=True)
    elif not hub_reachable():
        raise ProviderError(_offline_help(model_id, path, family, repo))
    check_device(device)
    import diffusers
    import torch

    cls = getattr(diffusers, FAMILIES[family][0])
    started = time.perf_counter()
    try:
        with quiet_progress_bars():
            pipe = cls.from_single_file(path, **{_dtype_argument(): getattr(torch, dtype)}, **kwargs)
    except Exception as exc:
        text = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise ProviderError(
            f"cannot load {model_id} from the single file {path} ({text}). Convert it to a diffusers folder"
            f" where the hub can be reached (`{cls.__name__}.from_single_file(path).save_pretrained(folder)`)"
            " and add that folder instead."
        ) from exc
    return ready(pipe, model_id, path, device, dtype, started)


def _offline_help(model_id: str, path: str, family: str, repo: str | None) -> str:
    return (
        f"cannot load {model_id} offline: the single file {Path(path).name} holds only weights, and diffusers"
        f" needs the {family} configs (tokenizer, scheduler, component configs) from {repo or 'the hub'}, which"
        " is not in the Hugging Face cache and cannot be reached. Either convert the checkpoint to a diffusers"
        f" folder where the hub can be reached (`{FAMILIES[family][0]}.from_single_file(path).save_pretrained("
        "folder)`) and add that folder with `studio.add_model(folder)`, put a diffusers folder of the same"
        " family in the model folder (its configs are used), or make the hub reachable."
    )


def _in_hf_cache(repo: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(repo, "model_index.json"), str)
    except Exception:  # an old huggingface_hub or a broken cache: treat as absent
        return False


def hub_reachable(timeout: float = 3.0) -> bool:
    """False when HF_HUB_OFFLINE is set or the hub's host does not answer within ``timeout`` s
    (behind a proxy the answer is assumed yes: the proxy decides)."""
    from .pipelines import hub_offline

    if hub_offline():
        return False
    if any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:
        with socket.create_connection((url.hostname or "huggingface.co", url.port or 443), timeout=timeout):
            return True
    except OSError:
        return False
