"""Write a diffusers Stable Diffusion 1 pipeline as ONE original-format (LDM / CompVis) checkpoint,
the ``.safetensors`` layout people download from model sites: ``model.diffusion_model.*`` (UNet),
``first_stage_model.*`` (VAE) and ``cond_stage_model.transformer.text_model.*`` (CLIP text encoder).

This is the inverse of diffusers' ``convert_ldm_unet_checkpoint``, ``convert_ldm_vae_checkpoint``
and ``convert_ldm_clip_checkpoint`` (diffusers/loaders/single_file_utils.py) for the block types
SD 1 uses (DownBlock2D / CrossAttnDownBlock2D, UNetMidBlock2DCrossAttn, UpBlock2D /
CrossAttnUpBlock2D; the VAE's Down/UpEncoderBlock2D), for any number of blocks and
``layers_per_block``. :func:`round_trip` converts a checkpoint back with diffusers' own
converters, which the tests compare to the pipeline's state dicts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

UNET = "model.diffusion_model."
VAE = "first_stage_model."
CLIP = "cond_stage_model.transformer."

_UNET_TOP = {
    "time_embedding.linear_1.": "time_embed.0.",
    "time_embedding.linear_2.": "time_embed.2.",
    "conv_in.": "input_blocks.0.0.",
    "conv_norm_out.": "out.0.",
    "conv_out.": "out.2.",
}
_UNET_RESNET = {
    "norm1.": "in_layers.0.",
    "conv1.": "in_layers.2.",
    "norm2.": "out_layers.0.",
    "conv2.": "out_layers.3.",
    "time_emb_proj.": "emb_layers.1.",
    "conv_shortcut.": "skip_connection.",
}
_VAE_TOP = {"conv_norm_out.": "norm_out.", "conv_in.": "conv_in.", "conv_out.": "conv_out."}
_VAE_ATTENTION = {
    "group_norm.": "norm.",
    "to_q.": "q.",
    "to_k.": "k.",
    "to_v.": "v.",
    "to_out.0.": "proj_out.",
}


def _unet_key(key: str, per: int) -> str:
    for old, new in _UNET_TOP.items():
        if key.startswith(old):
            return new + key[len(old):]
    m = re.match(r"down_blocks\.(\d+)\.(resnets|attentions|downsamplers)\.(\d+)\.(.*)", key)
    if m:
        block, part, j, rest = int(m[1]), m[2], int(m[3]), m[4]
        if part == "downsamplers":  # its own input block after the block's layers: ``…op``
            return f"input_blocks.{1 + block * (per + 1) + per}.0.{rest.replace('conv.', 'op.', 1)}"
        index = 1 + block * (per + 1) + j
        return f"input_blocks.{index}.0.{_resnet(rest)}" if part == "resnets" else f"input_blocks.{index}.1.{rest}"
    m = re.match(r"mid_block\.(resnets|attentions)\.(\d+)\.(.*)", key)
    if m:  # resnet 0, attention 0, resnet 1 → middle_block.0, .1, .2
        part, j, rest = m[1], int(m[2]), m[3]
        return f"middle_block.{2 * j}.{_resnet(rest)}" if part == "resnets" else f"middle_block.1.{rest}"
    m = re.match(r"up_blocks\.(\d+)\.(resnets|attentions|upsamplers)\.(\d+)\.(.*)", key)
    if m:
        block, part, j, rest = int(m[1]), m[2], int(m[3]), m[4]
        if part == "resnets":
            return f"output_blocks.{block * (per + 1) + j}.0.{_resnet(rest)}"
        if part == "attentions":
            return f"output_blocks.{block * (per + 1) + j}.1.{rest}"
        # the upsampler closes the block's last layer: after its attention when it has one
        raise _Upsampler(block * (per + 1) + per, rest)
    raise KeyError(f"no LDM name for UNet key {key!r}")


class _Upsampler(Exception):
    def __init__(self, index: int, rest: str):
        super().__init__(index, rest)
        self.index, self.rest = index, rest


def _resnet(rest: str) -> str:
    for old, new in _UNET_RESNET.items():
        if rest.startswith(old):
            return new + rest[len(old):]
    return rest


def unet_state_to_ldm(state: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """A diffusers UNet2DConditionModel state dict → LDM UNet keys (without ``model.diffusion_model.``)."""
    per = int(config["layers_per_block"])
    out: dict[str, Any] = {}
    upsamplers: list[tuple[int, str, Any]] = []
    for key, value in state.items():
        try:
            out[_unet_key(key, per)] = value
        except _Upsampler as up:
            upsamplers.append((up.index, up.rest, value))
    for index, rest, value in upsamplers:
        slot = 2 if any(k.startswith(f"output_blocks.{index}.1.") for k in out) else 1
        out[f"output_blocks.{index}.{slot}.{rest}"] = value
    return out


def vae_state_to_ldm(state: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """A diffusers AutoencoderKL state dict → LDM VAE keys (without the ``first_stage_model.`` prefix);
    the mid attention's linear weights become the original 1×1 convolutions."""
    blocks = len(config["up_block_types"])
    out: dict[str, Any] = {}
    for key, value in state.items():
        out[_vae_key(key, blocks)] = value[:, :, None, None] if _is_vae_attention_weight(key, value) else value
    return out


def _is_vae_attention_weight(key: str, value) -> bool:
    return ".mid_block.attentions." in key and key.endswith(".weight") and "group_norm" not in key and value.ndim == 2


def _vae_key(key: str, blocks: int) -> str:
    side, _, rest = key.partition(".")
    if side not in ("encoder", "decoder"):
        return key  # quant_conv, post_quant_conv
    for old, new in _VAE_TOP.items():
        if rest.startswith(old):
            return f"{side}.{new}{rest[len(old):]}"
    m = re.match(r"(down|up)_blocks\.(\d+)\.(resnets|downsamplers|upsamplers)\.(\d+)\.(.*)", rest)
    if m:
        kind, block, part, j, tail = m[1], int(m[2]), m[3], m[4], m[5]
        if kind == "up":  # the decoder's blocks are numbered from the bottom in LDM
            block = blocks - 1 - block
        if part == "resnets":
            return f"{side}.{kind}.{block}.block.{j}.{tail.replace('conv_shortcut.', 'nin_shortcut.', 1)}"
        return f"{side}.{kind}.{block}.{'downsample' if kind == 'down' else 'upsample'}.{tail}"
    m = re.match(r"mid_block\.resnets\.(\d+)\.(.*)", rest)
    if m:
        return f"{side}.mid.block_{int(m[1]) + 1}.{m[2].replace('conv_shortcut.', 'nin_shortcut.', 1)}"
    m = re.match(r"mid_block\.attentions\.0\.(.*)", rest)
    if m:
        tail = m[1]
        for old, new in _VAE_ATTENTION.items():
            if tail.startswith(old):
                return f"{side}.mid.attn_1.{new}{tail[len(old):]}"
    raise KeyError(f"no LDM name for VAE key {key!r}")


def clip_state_to_ldm(state: Mapping[str, Any]) -> dict[str, Any]:
    """A transformers CLIPTextModel state dict → LDM keys (without ``cond_stage_model.transformer.``):
    ``text_model.…`` whether or not this transformers version nests the model under ``text_model``."""
    return {(k if k.startswith("text_model.") else f"text_model.{k}"): v for k, v in state.items()}


def pipeline_to_ldm(pipe) -> dict[str, Any]:
    """The UNet, VAE and text encoder of an SD 1 pipeline as one LDM-format state dict (contiguous tensors)."""
    out: dict[str, Any] = {}
    parts = (
        (UNET, unet_state_to_ldm(pipe.unet.state_dict(), pipe.unet.config)),
        (VAE, vae_state_to_ldm(pipe.vae.state_dict(), pipe.vae.config)),
        (CLIP, clip_state_to_ldm(pipe.text_encoder.state_dict())),
    )
    for prefix, state in parts:
        for key, value in state.items():
            out[prefix + key] = value.detach().contiguous().clone()
    return out


def write_ldm_checkpoint(pipe, path) -> dict[str, Any]:
    """Save :func:`pipeline_to_ldm` of ``pipe`` as a ``.safetensors`` file at ``path``; the state dict."""
    from safetensors.torch import save_file

    state = pipeline_to_ldm(pipe)
    save_file(state, str(path), metadata={"format": "pt"})
    return state


def round_trip(checkpoint: Mapping[str, Any], pipe) -> dict[str, dict[str, Any]]:
    """Convert an LDM checkpoint back with diffusers' own converters: component → diffusers state dict."""
    from diffusers.loaders.single_file_utils import (
        convert_ldm_clip_checkpoint,
        convert_ldm_unet_checkpoint,
        convert_ldm_vae_checkpoint,
    )

    checkpoint = dict(checkpoint)
    text = convert_ldm_clip_checkpoint(checkpoint)
    if not hasattr(pipe.text_encoder, "text_model"):  # flattened CLIPTextModel (transformers ≥ 5.6)
        text = {k.removeprefix("text_model."): v for k, v in text.items()}
    return {
        "unet": convert_ldm_unet_checkpoint(checkpoint, dict(pipe.unet.config)),
        "vae": convert_ldm_vae_checkpoint(checkpoint, dict(pipe.vae.config)),
        "text_encoder": text,
    }
