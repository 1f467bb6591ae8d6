"""The offline tiny Stable Diffusion model behind ``diffusers:tiny`` (DESIGN.md §7).

No weights can be downloaded here, so the model is made on first use: a UNet and a CLIP text
encoder with random (seeded, hence reproducible) weights, a VAE set up as a colour codec (see
:func:`make_colour_codec`), a CLIP tokenizer built from a vocab.json / merges.txt this module
writes, and a v-prediction DPM++ scheduler. It is saved with ``save_pretrained`` and loaded back with
``from_pretrained``, so the real loading path runs. Its images are noise (blocks of colour: the
UNet is random), but like a real model's VAE its VAE gives back the colours it encodes, so what a
LoRA learns from images shows in the pixels it generates.

The folder appears atomically: the model is saved into a temporary folder beside the target
and renamed into place, so a reader never sees half a model and two builders (threads or
processes) never mix their files; the loser of the race discards its copy.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from ...core.errors import ProviderError
from .pipelines import quiet_progress_bars

#: Folder name under the provider's cache; bump the suffix when the recipe changes.
TINY_DIRNAME = "tiny-sd1-v2"
TINY_UPSCALER_DIRNAME = "tiny-x4-upscaler-v1"
TINY_ESRGAN_FILENAME = "tiny-esrgan-x4-v2.safetensors"
#: The tiny x4 upscaler's largest noise level (the real one's, 350).
UPSCALER_MAX_NOISE = 350
SEED = 20240501
#: Tokens the text encoder sees (CLIP's context length).
MAX_LENGTH = 77
_STALE_SECONDS = 3600
_PARTIAL_SUFFIX = ".partial"

# Module init draws from torch's global RNG; builds in one process take turns so that the
# seeded state is not shared between two threads.
_build_lock = threading.Lock()


def is_model_folder(path: Path) -> bool:
    """True when ``path`` holds a saved diffusers pipeline (its model_index.json exists)."""
    return (Path(path) / "model_index.json").is_file()


def ensure_tiny_model(cache_dir: str | os.PathLike) -> Path:
    """The tiny model's folder under ``cache_dir``, built there on first use."""
    path = Path(cache_dir) / TINY_DIRNAME
    if is_model_folder(path):
        return path
    return build_tiny_model(path)


def build_tiny_model(path: str | os.PathLike, make=None) -> Path:
    """Build the tiny model (or the pipeline ``make()`` returns) and save it into ``path`` atomically.

    Returns ``path``, at once when it already holds a model (another builder won the race).
    """
    path = Path(path)
    if is_model_folder(path):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    _sweep_stale(path)
    partial = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=_PARTIAL_SUFFIX, dir=path.parent))
    try:
        pipe = (make or make_tiny_pipeline)()
        with quiet_progress_bars():
            pipe.save_pretrained(partial)
        os.chmod(partial, 0o755)  # mkdtemp made it private; the cache is an ordinary folder
        _publish(partial, path)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return path


def _publish(partial: Path, path: Path) -> None:
    """Rename the finished folder into place, or accept the copy another builder put there first."""
    try:
        os.rename(partial, path)
    except OSError as exc:
        if is_model_folder(path):
            return
        raise ProviderError(
            f"cannot put the tiny model at {path}: {exc.strerror or exc}. If that folder is left over"
            " from an interrupted build, delete it and try again."
        ) from exc


def _sweep_stale(path: Path) -> None:
    """Remove partial folders that crashed builders left behind (old enough to be dead)."""
    cutoff = time.time() - _STALE_SECONDS
    for leftover in path.parent.glob(f".{path.name}.*{_PARTIAL_SUFFIX}"):
        try:
            if leftover.stat().st_mtime < cutoff:
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            pass


def make_tiny_pipeline():
    """A new tiny ``StableDiffusionPipeline`` in memory (not saved): seeded random UNet and text encoder,
    the colour-codec VAE of :func:`make_colour_codec`, a v-prediction DPM++ scheduler."""
    import torch
    from diffusers import (
        AutoencoderKL,
        DPMSolverMultistepScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    with tempfile.TemporaryDirectory(prefix="imagen-nb-tokenizer-") as tmp:
        tokenizer = make_tiny_tokenizer(Path(tmp))

    with _build_lock, torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        unet = UNet2DConditionModel(
            sample_size=8,
            in_channels=4,
            out_channels=4,
            block_out_channels=(32, 64),
            layers_per_block=1,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=32,
            attention_head_dim=8,
            norm_num_groups=8,
        )
        vae = AutoencoderKL(
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            block_out_channels=(8, 16, 16, 16),
            latent_channels=4,
            layers_per_block=1,
            norm_num_groups=4,
            sample_size=64,
        )
        make_colour_codec(vae)
        text_encoder = CLIPTextModel(
            CLIPTextConfig(
                hidden_size=32,
                intermediate_size=64,
                num_attention_heads=4,
                num_hidden_layers=2,
                projection_dim=32,
                vocab_size=len(tokenizer),
                max_position_embeddings=MAX_LENGTH,
                bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id,
            )
        )
    # v-prediction (as SD 2.x): a random UNet's noise estimate misses the noise, and an epsilon model's
    # x0 = (x_t - sigma * eps) / alpha multiplies that miss by up to ~15 at the first step, so its
    # images are saturated and a LoRA cannot steer them; a v model's x0 = alpha * x_t - sigma * v does not.
    scheduler = DPMSolverMultistepScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1,
        prediction_type="v_prediction",
    )
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


#: The tiny VAE's signal inside its GroupNorms: small against their eps (1e-6 on the variance), so they scale
#: it by a constant 1/sqrt(eps) instead of normalising it away.
_CODEC_SIGNAL = 3e-5
#: Raw latent per colour unit: after the VAE's ``scaling_factor`` (SD's 0.18215) a uniformly random colour
#: channel in [-1, 1] (standard deviation 1/sqrt(3)) has unit variance, as SD's latents have.
_LATENT_GAIN = 3**0.5 / 0.18215
#: Log-variance of the tiny VAE's posterior: sampled latents wander ~0.1 of a level of 255.
_CODEC_LOGVAR = -12.0


def make_colour_codec(vae) -> None:
    """Set a tiny 4-block ``AutoencoderKL``'s weights (in place) so that it encodes and decodes colours faithfully.

    A random VAE maps a red image to a muddy one, so nothing learnt in latent space shows in the
    pixels. Here every residual branch and attention output is zeroed (each block passes its input
    through), the encoder's down-samplers average 2×2 pixels, the decoder's up-samplers repeat them,
    and conv_in / conv_out carry each colour channel as a pair (+c, -c): the GroupNorm of a group of
    such pairs has zero mean and a variance far below its eps, so it only scales, and
    ``silu(v) - silu(-v) = v`` undoes the SiLU exactly. Latent channels 0-2 are red, green and blue
    averaged over 8×8 pixels, channel 3 their mean; decoding repeats each latent pixel over 8×8.
    A solid colour comes back within a level of 255.
    """
    import torch

    enc, dec = vae.encoder, vae.decoder
    with torch.no_grad():
        for name, module in vae.named_modules():
            if name.endswith(("conv2", "to_out.0")):  # residual branches and attention outputs: off
                module.weight.zero_()
                module.bias.zero_()
        for block in enc.down_blocks:  # 2×2 average (the input is padded right/bottom only, stride 2)
            for down in block.downsamplers or []:
                _identity(down.conv, (0, 1))
        for block in dec.up_blocks:  # nearest-neighbour ×2, then the conv's centre tap
            for up in block.upsamplers or []:
                _identity(up.conv, (1,))
        for block in (*enc.down_blocks, *dec.up_blocks):
            for resnet in block.resnets:
                if resnet.conv_shortcut is not None:  # channel count changes: keep the first channels
                    _identity(resnet.conv_shortcut, (0,))

        norm = 1.0 / (_CODEC_SIGNAL * 1e3)  # what a GroupNorm with eps 1e-6 multiplies the pairs by
        weight = torch.zeros_like(enc.conv_in.weight)  # rgb -> (+r, -r, +g, -g, +b, -b, 0, 0)
        for c in range(3):
            weight[2 * c, c, 1, 1], weight[2 * c + 1, c, 1, 1] = _CODEC_SIGNAL, -_CODEC_SIGNAL
        enc.conv_in.weight.copy_(weight)
        enc.conv_in.bias.zero_()
        weight = torch.zeros_like(enc.conv_out.weight)  # pairs -> mean (r, g, b, (r+g+b)/3); log-variance const
        for c in range(3):
            for k, sign in ((2 * c, 1.0), (2 * c + 1, -1.0)):
                weight[c, k, 1, 1] = sign * norm * _LATENT_GAIN
                weight[3, k, 1, 1] = sign * norm * _LATENT_GAIN / 3
        enc.conv_out.weight.copy_(weight)
        enc.conv_out.bias.copy_(torch.tensor([0.0] * 4 + [_CODEC_LOGVAR] * 4))
        _identity(vae.quant_conv, (0,))
        _identity(vae.post_quant_conv, (0,))

        weight = torch.zeros_like(dec.conv_in.weight)  # latent (r, g, b, ·) -> (+r, -r, +g, -g, +b, -b, 0, …)
        for c in range(3):
            weight[2 * c, c, 1, 1] = _CODEC_SIGNAL / _LATENT_GAIN
            weight[2 * c + 1, c, 1, 1] = -_CODEC_SIGNAL / _LATENT_GAIN
        dec.conv_in.weight.copy_(weight)
        dec.conv_in.bias.zero_()
        weight = torch.zeros_like(dec.conv_out.weight)  # pairs -> rgb
        for c in range(3):
            weight[c, 2 * c, 1, 1], weight[c, 2 * c + 1, 1, 1] = norm, -norm
        dec.conv_out.weight.copy_(weight)
        dec.conv_out.bias.zero_()


def _identity(conv, taps) -> None:
    """Make ``conv`` copy channel i to channel i (as far as both exist), averaging the kernel taps ``taps`` × ``taps``."""
    import torch

    weight = torch.zeros_like(conv.weight)
    channels = min(weight.shape[0], weight.shape[1])
    for y in taps:
        for x in taps:
            weight[range(channels), range(channels), y, x] = 1.0 / len(taps) ** 2
    conv.weight.copy_(weight)
    conv.bias.zero_()


def ensure_tiny_upscaler(cache_dir: str | os.PathLike) -> Path:
    """The tiny x4 upscaler's folder under ``cache_dir``, built there on first use."""
    path = Path(cache_dir) / TINY_UPSCALER_DIRNAME
    if is_model_folder(path):
        return path
    return build_tiny_model(path, make_tiny_upscaler_pipeline)


def make_tiny_upscaler_pipeline():
    """A tiny ``StableDiffusionUpscalePipeline`` with seeded random weights, as diffusers' own tests build it.

    Its UNet takes 7 channels (4 latent + the 3 of the low-resolution image) and a class
    embedding for the noise level; a DDPM "low-res scheduler" noises the input image; the VAE has
    3 blocks (scale factor 4), so the output is 4× the input.
    """
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, DDPMScheduler, StableDiffusionUpscalePipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    with tempfile.TemporaryDirectory(prefix="imagen-nb-tokenizer-") as tmp:
        tokenizer = make_tiny_tokenizer(Path(tmp))
    with _build_lock, torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED + 1)
        unet = UNet2DConditionModel(
            sample_size=32,
            in_channels=7,
            out_channels=4,
            block_out_channels=(32, 64),
            layers_per_block=1,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=32,
            attention_head_dim=8,
            norm_num_groups=8,
            use_linear_projection=True,
            num_class_embeds=UPSCALER_MAX_NOISE + 1,
        )
        vae = AutoencoderKL(
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D",) * 3,
            up_block_types=("UpDecoderBlock2D",) * 3,
            block_out_channels=(8, 16, 16),
            latent_channels=4,
            layers_per_block=1,
            norm_num_groups=4,
            scaling_factor=0.08333,  # the x4 upscaler's VAE factor (the pipeline warns on another)
        )
        text_encoder = CLIPTextModel(
            CLIPTextConfig(
                hidden_size=32, intermediate_size=64, num_attention_heads=4, num_hidden_layers=2,
                projection_dim=32, vocab_size=len(tokenizer), max_position_embeddings=MAX_LENGTH,
                bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id,
            )
        )
    return StableDiffusionUpscalePipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        low_res_scheduler=DDPMScheduler(),
        scheduler=DDIMScheduler(prediction_type="v_prediction"),
        max_noise_level=UPSCALER_MAX_NOISE,
    )


def ensure_tiny_esrgan(cache_dir: str | os.PathLike) -> Path:
    """The tiny ESRGAN's weights file under ``cache_dir``, written there on first use."""
    path = Path(cache_dir) / TINY_ESRGAN_FILENAME
    if path.is_file():
        return path
    return write_tiny_esrgan(path)


def tiny_esrgan_state(nf: int = 8, nb: int = 1, gc: int = 32, seed: int = SEED + 2) -> dict:
    """A tiny Real-ESRGAN ×4 (RRDBNet, BasicSR key layout) state dict with seeded random weights.

    ``gc`` stays at ESRGAN's 32 growth channels: spandrel assumes that width when it rebuilds an RRDBNet.
    """
    import torch

    from .srnet import SRArch, build

    with _build_lock, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = build(SRArch("RRDBNet", 4, {"in_ch": 3, "out_ch": 3, "nf": nf, "nb": nb, "gc": gc, "ups": 2,
                                          "unshuffle": 1}))
    return {k: v.contiguous() for k, v in net.state_dict().items()}


def write_tiny_esrgan(path: str | os.PathLike) -> Path:
    """Save :func:`tiny_esrgan_state` with safetensors' ``save_file`` to ``path`` atomically."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=_PARTIAL_SUFFIX, dir=path.parent)
    os.close(fd)
    try:
        save_file(tiny_esrgan_state(), tmp, metadata={"note": "imagen-nb tiny ESRGAN: random weights"})
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def make_tiny_tokenizer(folder: Path):
    """Write a small byte-level BPE vocab.json / merges.txt into ``folder`` and load a CLIPTokenizer from it."""
    from transformers import CLIPTokenizer

    write_tiny_vocab(folder)
    return CLIPTokenizer.from_pretrained(str(folder), model_max_length=MAX_LENGTH)


#: A few merges, so the BPE model has something to merge (enough for a test tokenizer).
_MERGES = [("t", "h"), ("th", "e</w>"), ("a", "n"), ("i", "n"), ("o", "r"), ("e", "r</w>")]


def write_tiny_vocab(folder: Path) -> None:
    """vocab.json: the 256 byte characters, the same with ``</w>``, the merges, then the specials."""
    folder.mkdir(parents=True, exist_ok=True)
    chars = list(_bytes_to_unicode().values())
    tokens = chars + [c + "</w>" for c in chars] + [a + b for a, b in _MERGES]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {token: i for i, token in enumerate(tokens)}
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    merges = "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in _MERGES)
    (folder / "merges.txt").write_text(merges, encoding="utf-8")


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's map of the 256 byte values to printable characters."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars = keep[:]
    extra = 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(keep, map(chr, chars)))
