"""Upscaling a 512×512 product ×4: seconds per image and peak memory, tiled against untiled.

Each case runs in a fresh child process (so peak memory is the case's own), in a temporary home,
through ``studio.upscale`` — the path a user takes: reading the product, the model (loaded once by
a warm-up upscale of a 32×32 image first, not timed), the upscale itself, PNG encoding and the
catalog write. Figures per case: the order's wall time, the upscale's own seconds (``seconds`` of
the return set), the tiles it ran, and peak memory: the child's peak RSS minus its RSS before the
timed run on the CPU, ``torch.cuda.max_memory_allocated`` on a GPU.

Models:

- default (smoke, any CPU): the offline tiny models — ``diffusers:tiny-esrgan`` (RRDBNet, 8 features,
  1 block) at 512² → 2048², untiled and in 128-px tiles; and ``diffusers:tiny-upscaler`` (the tiny x4
  diffusion upscaler, 2 steps) at ``--x4-input`` px (default 128: its UNet attends over every latent
  pixel, so a 512² input is a GPU job even for the tiny model).
- ``--full`` (for a GPU): full-size architectures with random weights, built in the child — Real-ESRGAN
  x4plus (RRDBNet 64 features, 23 blocks, 32 growth channels) and the SD x4 upscaler (UNet 256/512/512/1024,
  7 input channels, OpenCLIP-H-sized text encoder; 20 steps) — at 512² → 2048², untiled and in
  256-px tiles (the x4 upscaler runs whole: diffusers has no UNet tiling; VAE tiling is its setting).
  Their outputs are noise; the compute and memory are the real ones.

    .venv/bin/python benchmarks/upscale.py                # smoke figures on this CPU
    .venv/bin/python benchmarks/upscale.py --full --device cuda
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZE = 512


def rss_bytes() -> int:
    """The current resident set size of this process."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def build_full_esrgan(folder: Path) -> Path:
    """Real-ESRGAN x4plus's architecture with seeded random weights, saved as safetensors."""
    import torch
    from safetensors.torch import save_file

    from imagen_nb.providers.diffusers.srnet import SRArch, build

    torch.manual_seed(0)
    net = build(SRArch("RRDBNet", 4, {"in_ch": 3, "out_ch": 3, "nf": 64, "nb": 23, "gc": 32, "ups": 2,
                                      "unshuffle": 1}))
    path = folder / "RealESRGAN_x4plus-random.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    return path


def build_full_x4(folder: Path) -> Path:
    """The SD x4 upscaler's architecture (as its hub configs give it) with random weights, saved."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, DDPMScheduler, StableDiffusionUpscalePipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from imagen_nb.providers.diffusers.tiny import make_tiny_tokenizer

    torch.manual_seed(0)
    tokenizer = make_tiny_tokenizer(folder / "tokenizer-src")
    unet = UNet2DConditionModel(
        sample_size=128, in_channels=7, out_channels=4, block_out_channels=(256, 512, 512, 1024), layers_per_block=2,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=1024, attention_head_dim=8, use_linear_projection=True,
        only_cross_attention=(True, True, True, False), num_class_embeds=1000)
    vae = AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 3,
                        up_block_types=("UpDecoderBlock2D",) * 3, block_out_channels=(128, 256, 512),
                        latent_channels=4, layers_per_block=2, scaling_factor=0.08333)
    text = CLIPTextModel(CLIPTextConfig(hidden_size=1024, intermediate_size=4096, num_attention_heads=16,
                                        num_hidden_layers=23, projection_dim=1024, vocab_size=len(tokenizer),
                                        max_position_embeddings=77, hidden_act="gelu",
                                        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                                        pad_token_id=tokenizer.pad_token_id))
    pipe = StableDiffusionUpscalePipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet,
                                          low_res_scheduler=DDPMScheduler(),
                                          scheduler=DDIMScheduler(prediction_type="v_prediction"), max_noise_level=350)
    path = folder / "x4-upscaler-random"
    pipe.save_pretrained(path)
    return path


def run_case(case: dict) -> dict:
    """One case in this (child) process: a studio, a warm-up, the timed upscale."""
    import torch
    from PIL import Image

    import imagen_nb as inb

    home = Path(tempfile.mkdtemp(prefix="bench-upscale-"))
    models = home / "models"
    models.mkdir()
    if case["model"] == "full-esrgan":
        build_full_esrgan(models)
        model = "diffusers:RealESRGAN_x4plus-random"
    elif case["model"] == "full-x4":
        build_full_x4(models)
        model = "diffusers:x4-upscaler-random"
    else:
        model = case["model"]
    size = case["input"]
    rng = __import__("numpy").random.default_rng(1)
    Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype="uint8")).save(home / "in.png")
    Image.new("RGB", (32, 32), (90, 30, 200)).save(home / "warm.png")
    with inb.Studio(home, providers={"diffusers": {"device": case["device"]}}, serve=False) as studio:
        warm, product = studio.import_products([home / "warm.png", home / "in.png"])
        extra = dict(case.get("params", {}))
        first = studio.upscale(warm, scale=4, model=model, **extra).wait()
        assert first.status == "fulfilled", first.errors
        cuda = case["device"].startswith("cuda")
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        before = rss_bytes()
        started = time.perf_counter()
        order = studio.upscale(product, scale=4, model=model, **extra).wait()
        wall = time.perf_counter() - started
        assert order.status == "fulfilled", order.errors
        returned = order.generations.return_params[0]
        (out,) = order.products
        peak = torch.cuda.max_memory_allocated() if cuda else \
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    return {"wall_s": round(wall, 3), "upscale_s": returned["seconds"], "tiles": returned.get("tiles", 1),
            "tile_used": returned.get("tile_size_used"), "output": [out.width, out.height],
            "peak_bytes": int(peak), "peak_kind": "cuda allocated" if cuda else "RSS growth"}


def cases(args) -> list[dict]:
    dev = args.device
    if args.full:
        return [
            {"name": "Real-ESRGAN x4plus (random), untiled", "model": "full-esrgan", "input": SIZE, "device": dev,
             "params": {"tile_size": 0}},
            {"name": "Real-ESRGAN x4plus (random), 256-px tiles", "model": "full-esrgan", "input": SIZE,
             "device": dev, "params": {"tile_size": 256, "tile_overlap": 16}},
            {"name": "SD x4 upscaler (random), 20 steps", "model": "full-x4", "input": SIZE, "device": dev,
             "params": {"num_inference_steps": 20, "prompt": "a photo"}},
        ]
    return [
        {"name": "tiny-esrgan, untiled", "model": "diffusers:tiny-esrgan", "input": SIZE, "device": dev,
         "params": {"tile_size": 0}},
        {"name": "tiny-esrgan, 128-px tiles (overlap 16)", "model": "diffusers:tiny-esrgan", "input": SIZE,
         "device": dev, "params": {"tile_size": 128, "tile_overlap": 16}},
        {"name": f"tiny-upscaler (x4 diffusion), 2 steps, {args.x4_input}² input", "model": "diffusers:tiny-upscaler",
         "input": args.x4_input, "device": dev, "params": {"num_inference_steps": 2, "prompt": "a photo"}},
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="full-size architectures (a GPU job)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--x4-input", type=int, default=128, help="input side for the tiny x4 diffusion upscaler")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(json.loads(args.case))))
        return 0
    print(f"# {platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print("| case | input → output | wall s | upscale s | tiles | peak MB |")
    print("|---|---|---|---|---|---|")
    for case in cases(args):
        out = subprocess.run([sys.executable, __file__, "--case", json.dumps(case)], capture_output=True, text=True)
        if out.returncode != 0:
            print(f"| {case['name']} | failed: {out.stderr.strip().splitlines()[-1] if out.stderr else '?'} |||||")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"| {case['name']} | {case['input']}² → {r['output'][0]}×{r['output'][1]} | {r['wall_s']:.2f} | "
              f"{r['upscale_s']:.2f} | {r['tiles']} | {r['peak_bytes'] / 1e6:.0f} ({r['peak_kind']}) |")
        sys.stdout.flush()
    print(f"load after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
