"""GPU throughput of the diffusers provider on a full-size Stable Diffusion 1.5 architecture.

No weights can be downloaded, and random weights cost the same compute as trained ones
(DESIGN.md §7), so the model is built here, on the device: a UNet2DConditionModel with the SD 1.5
config (block_out_channels 320/640/1280/1280, cross-attention 768, attention_head_dim 8,
layers_per_block 2; 860 M parameters), the SD AutoencoderKL (128/256/512/512) and a CLIP text
encoder (768 wide, 12 layers, 49,408-token vocabulary) with the tiny recipe's tokenizer, in
float16, seeded. It is saved with ``save_pretrained`` and registered with ``studio.add_model``,
so every side below loads it with the real ``from_pretrained``.

Every side makes the same kind of image: DPM++ 2M, 25 steps, guidance 7.5, at 512×512 and at
512 wide × 720 high, one image per generation. Measured in one run:

(a) a naive notebook loop: a warm pipeline, one ``pipe(...)`` call per image, each PNG saved;
(b) the studio executor on one 54-generation order: ``prompt`` is a list group of 54 prompts (54
    generations; the executor batches up to 8 that share size and steps into one pipeline call,
    and writes PNG files with metadata, thumbnails and catalog rows). SmartParameters multiply
    groups, so seeds 1..54 cannot also be a group of the same order: the order leaves ``seed``
    unset and each generation records the seed it drew; the loop (a) uses seeds 1..54;
(c) a fresh process per image (``python -c`` → import, ``from_pretrained``, one image, PNG), 3 times.

Reported: images/s of each, seconds for the 54-image deck, ratios b/a and b/c, and the UNet's share
of the device's measured bf16 matmul peak. FLOPs: counted by ``torch.utils.flop_counter`` on one
UNet forward at the run's latent size with batch 2 (classifier-free guidance runs the prompt and
the negative prompt together), built on the ``meta`` device so nothing is computed; it counts the
matmuls, convolutions and attention (2·M·N·K each), not the elementwise ops. SD 1.5 at 512×512:
1.61 TFLOP per step at batch 2, i.e. 40.2 TFLOP for a 25-step image; at 512×720: 2.42 and 60.4.
The peak is the best of several ``torch.matmul`` of two 8192×8192 bf16 matrices (fp16 shown too).
UNet share = UNet FLOPs of the images ÷ wall seconds ÷ peak: a lower bound, as the wall time also
holds the text encoder, the VAE decode and PNG encoding.

    .venv/bin/python benchmarks/gpu_throughput.py                   # full size on CUDA
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/gpu_throughput.py --size tiny --device cpu  # tiny, end to end

``--size tiny`` runs the same three measurements on the tiny model (4 steps, 64×64 and 64×88): it
proves the script end to end on a CPU, and its figures say nothing about a GPU. On a 2-core VM run
it with ``OMP_NUM_THREADS=1``: with two OpenMP threads the tiny model's short kernels stall for
seconds at random (a plain loop measured 0.03–8 s per image), which swamps every ratio. Full size
on a CPU (~12 s per UNet step) is refused unless ``--allow-cpu-full`` is given.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUBJECTS = ["a cat", "a dog", "a fox", "an owl", "a horse", "a tiger", "a whale", "a robot", "a castle"]
STYLES = ["at dawn, oil painting", "in the rain, photograph", "at night, neon", "in snow, watercolor",
          "on the moon, 3d render", "in a forest, ink drawing"]
PROMPTS = [f"{subject} {style}" for subject in SUBJECTS for style in STYLES]  # 54
assert len(PROMPTS) == 54
SCHEDULER = "DPM++ 2M"
GUIDANCE = 7.5
MODEL_NAME = "sd15-random"

FULL = {"steps": 25, "sizes": [(512, 512), (512, 720)]}
TINY = {"steps": 4, "sizes": [(64, 64), (64, 88)]}


# ---- the model --------------------------------------------------------------------------------


def build_sd15(device: str, dtype):
    """A full-size SD 1.5 pipeline with seeded random weights, made directly on ``device``."""
    import torch
    from diffusers import AutoencoderKL, DPMSolverMultistepScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from imagen_nb.providers.diffusers.tiny import MAX_LENGTH, make_tiny_tokenizer

    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = make_tiny_tokenizer(Path(tmp))
    torch.manual_seed(0)
    with torch.device(device):
        unet = UNet2DConditionModel(**sd15_unet_config())
        vae = AutoencoderKL(
            in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, norm_num_groups=32,
            down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
            block_out_channels=(128, 256, 512, 512), sample_size=512, scaling_factor=0.18215,
        )
        text_encoder = CLIPTextModel(CLIPTextConfig(
            vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
            num_attention_heads=12, max_position_embeddings=MAX_LENGTH, hidden_act="quick_gelu",
            projection_dim=768, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        ))
    scheduler = DPMSolverMultistepScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                            steps_offset=1, num_train_timesteps=1000)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    return cast(pipe, device, dtype)


def sd15_unet_config() -> dict:
    """UNet2DConditionModel's SD 1.5 config (its defaults for the block types)."""
    return dict(sample_size=64, in_channels=4, out_channels=4, cross_attention_dim=768, attention_head_dim=8,
                block_out_channels=(320, 640, 1280, 1280), layers_per_block=2)


def build_tiny(device: str, dtype):
    from imagen_nb.providers.diffusers.tiny import make_tiny_pipeline

    return cast(make_tiny_pipeline(), device, dtype)


def cast(pipe, device: str, dtype):
    """Move every module of ``pipe`` to ``device`` and ``dtype`` (with torch's own ``Module.to``: the
    weights are random, so diffusers' warning about modules kept in float32 does not apply)."""
    import torch

    for module in pipe.components.values():
        if isinstance(module, torch.nn.Module):
            torch.nn.Module.to(module, device=device, dtype=dtype)
    return pipe


# ---- what the hardware can do ------------------------------------------------------------------


def matmul_peak(device: str, dtype, n: int, repeats: int) -> float:
    """Best FLOP/s of ``torch.matmul`` of two n×n matrices of ``dtype`` on ``device``."""
    import torch

    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(repeats):
        sync(device)
        started = time.perf_counter()
        for _ in range(10):
            a @ b
        sync(device)
        best = min(best, (time.perf_counter() - started) / 10)
    return 2 * n**3 / best


def unet_flops_per_image(unet_config: dict, cross_dim: int, width: int, height: int, steps: int) -> float:
    """FLOPs of the UNet for one image: ``steps`` forwards at batch 2 (guidance), counted on ``meta``."""
    import torch
    from diffusers import UNet2DConditionModel
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        unet = UNet2DConditionModel(**unet_config)
        latents = torch.empty(2, 4, height // 8, width // 8)
        text = torch.empty(2, 77, cross_dim)
        timestep = torch.tensor([500.0])
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        unet(latents, timestep, encoder_hidden_states=text)
    return counter.get_total_flops() * steps


def sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


# ---- the three sides ---------------------------------------------------------------------------


def naive_loop(pipe, device: str, width: int, height: int, steps: int, out: Path) -> float:
    """Seconds for 54 images, one pipeline call each (seeds 1..54), each PNG saved."""
    import torch

    sync(device)
    started = time.perf_counter()
    for seed, prompt in enumerate(PROMPTS, start=1):
        image = pipe(prompt, width=width, height=height, num_inference_steps=steps, guidance_scale=GUIDANCE,
                     generator=torch.Generator(device).manual_seed(seed)).images[0]
        image.save(out / f"{seed}.png")
    sync(device)
    return time.perf_counter() - started


def studio_order(studio, model_id: str, width: int, height: int, steps: int, prompts: list[str]) -> tuple[float, float]:
    """Seconds until ``order()`` returns and until every product is recorded."""
    started = time.perf_counter()
    order = studio.order(model_id, prompt=prompts, width=width, height=height, num_inference_steps=steps,
                         guidance_scale=GUIDANCE, scheduler=SCHEDULER)
    queued = time.perf_counter() - started
    order.wait()
    seconds = time.perf_counter() - started
    assert order.status == "fulfilled" and len(order.products) == len(prompts), order
    return queued, seconds


FRESH_CODE = """
import io, json, sys, time
t0 = time.perf_counter()
import torch, diffusers
a = json.loads(sys.argv[1])
t1 = time.perf_counter()
pipe = diffusers.StableDiffusionPipeline.from_pretrained(a["folder"], dtype=getattr(torch, a["dtype"])).to(a["device"])
pipe.set_progress_bar_config(disable=True)
t2 = time.perf_counter()
image = pipe(a["prompt"], width=a["width"], height=a["height"], num_inference_steps=a["steps"],
             guidance_scale=a["guidance"], generator=torch.Generator(a["device"]).manual_seed(a["seed"])).images[0]
image.save(a["out"])
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "load": t2 - t1, "generate": t3 - t2}))
"""


def fresh_processes(folder: Path, device: str, dtype: str, width: int, height: int, steps: int, count: int,
                    out: Path) -> list[dict]:
    """Wall seconds (and the child's own split) of ``count`` processes that each load and make one image."""
    runs = []
    for seed in range(1, count + 1):
        args = {"folder": str(folder), "device": device, "dtype": dtype, "prompt": PROMPTS[seed - 1],
                "width": width, "height": height, "steps": steps, "guidance": GUIDANCE, "seed": seed,
                "out": str(out / f"fresh-{seed}.png")}
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", FRESH_CODE, json.dumps(args)], capture_output=True, text=True)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"fresh process failed: {done.stderr[-2000:]}")
        runs.append({"wall": wall, **json.loads(done.stdout.strip().splitlines()[-1])})
    return runs


# ---- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", help="torch device (default: cuda when available, else cpu)")
    parser.add_argument("--size", choices=("full", "tiny"), default="full")
    parser.add_argument("--steps", type=int, help="denoising steps (default 25 full, 4 tiny)")
    parser.add_argument("--fresh", type=int, default=3, help="fresh processes per image size (c)")
    parser.add_argument("--only", choices=("square", "tall"), help="run one image size")
    parser.add_argument("--allow-cpu-full", action="store_true", help="run full size on a CPU (hours)")
    args = parser.parse_args()

    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if args.size == "full" and not device.startswith("cuda") and not args.allow_cpu_full:
        print(f"skipped: full size on {device} takes hours (~12 s per UNet step on a CPU). Run it on a CUDA GPU,"
              " or pass --size tiny to run end to end on the tiny model, or --allow-cpu-full to insist.",
              file=sys.stderr)
        sys.exit(2 if args.device else 0)  # `./dev.sh bench` on a machine without a GPU goes on
    preset = FULL if args.size == "full" else TINY
    steps = args.steps or preset["steps"]
    sizes = preset["sizes"]
    if args.only:
        sizes = sizes[:1] if args.only == "square" else sizes[1:]
    dtype_name = "float16" if device.startswith(("cuda", "mps")) else "float32"
    dtype = getattr(torch, dtype_name)

    import diffusers

    import imagen_nb as inb
    from imagen_nb.providers.diffusers.memory import format_bytes, pipeline_bytes
    from imagen_nb.providers.diffusers.pipelines import quiet_progress_bars

    describe = torch.cuda.get_device_name(device) if device.startswith("cuda") else device
    print(f"device {describe}, torch {torch.__version__} ({torch.get_num_threads()} CPU threads), diffusers "
          f"{diffusers.__version__}, {dtype_name}, {args.size} size, {SCHEDULER}, {steps} steps, guidance {GUIDANCE}",
          file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="imagen-nb-gpu-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        pipe = (build_sd15 if args.size == "full" else build_tiny)(device, dtype)
        sync(device)
        built = time.perf_counter() - started
        unet_config = dict(pipe.unet.config)
        cross_dim = unet_config["cross_attention_dim"]
        folder = root / MODEL_NAME
        started = time.perf_counter()
        with quiet_progress_bars():
            pipe.save_pretrained(folder)
        saved = time.perf_counter() - started
        size = pipeline_bytes([pipe])
        del pipe
        print(f"built on {device} in {built:.1f} s ({format_bytes(size)} of weights), saved in {saved:.1f} s",
              file=sys.stderr)

        rows = []
        studio = inb.Studio(root / "home", providers={"diffusers": {"device": device, "dtype": dtype_name}})
        try:
            model_id = studio.add_model(folder, name=MODEL_NAME)
            with quiet_progress_bars():
                naive = diffusers.StableDiffusionPipeline.from_pretrained(folder, dtype=dtype).to(device)
            naive.set_progress_bar_config(disable=True)
            naive.scheduler = diffusers.DPMSolverMultistepScheduler.from_config(
                naive.scheduler.config, algorithm_type="dpmsolver++", solver_order=2)
            for width, height in sizes:
                out = root / f"loop-{width}x{height}"
                out.mkdir()
                naive(PROMPTS[0], width=width, height=height, num_inference_steps=steps)  # warm-up at this shape
                loop_s = naive_loop(naive, device, width, height, steps, out)
                # Warm-up order: 14 generations run as batches of 8 and 6, the shapes the deck uses.
                studio_order(studio, model_id, width, height, steps, PROMPTS[:14])
                queued, order_s = studio_order(studio, model_id, width, height, steps, PROMPTS)
                fresh = fresh_processes(folder, device, dtype_name, width, height, steps, args.fresh, out)
                fresh_s = statistics.median(r["wall"] for r in fresh)
                flops = unet_flops_per_image(unet_config, cross_dim, width, height, steps)
                rows.append(dict(width=width, height=height, loop=loop_s, order=order_s, queued=queued,
                                 fresh=fresh_s, fresh_runs=fresh, flops=flops))
                print(f"{width}×{height}: loop {loop_s:.1f} s, order {order_s:.1f} s (order() returned after"
                      f" {queued * 1000:.0f} ms), fresh process {fresh_s:.1f} s/image "
                      f"({', '.join(format(r['wall'], '.1f') for r in fresh)}; median split import "
                      f"{statistics.median(r['import'] for r in fresh):.1f} s, load "
                      f"{statistics.median(r['load'] for r in fresh):.1f} s, generate "
                      f"{statistics.median(r['generate'] for r in fresh):.1f} s)", file=sys.stderr)
        finally:
            studio.close()

    # The peak is measured last: on a CPU, big bf16 matmuls leave the next pipeline calls slow for seconds.
    n = 8192 if device.startswith("cuda") else 1024
    peak_bf16 = matmul_peak(device, torch.bfloat16, n, 10 if device.startswith("cuda") else 3)
    peak_fp16 = matmul_peak(device, torch.float16, n, 10) if device.startswith("cuda") else None
    print(f"matmul peak {n}²: bf16 {peak_bf16 / 1e12:.1f} TFLOP/s"
          + (f", fp16 {peak_fp16 / 1e12:.1f} TFLOP/s" if peak_fp16 else ""), file=sys.stderr)

    images = len(PROMPTS)
    print(f"| device | W×H | steps | (a) loop: {images} images s | (a) img/s | (b) order: {images} images s "
          "| (b) img/s | (c) fresh process s/image | (c) img/s | b/a | b/c | UNet TFLOP/image "
          "| UNet TFLOP/s (a / b) | bf16 matmul peak TFLOP/s | UNet share of peak (a / b) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        a_rate, b_rate, c_rate = images / r["loop"], images / r["order"], 1 / r["fresh"]
        a_tf, b_tf = r["flops"] * a_rate, r["flops"] * b_rate
        print(f"| {describe} | {r['width']}×{r['height']} | {steps} | {r['loop']:.1f} | {a_rate:.3g} "
              f"| {r['order']:.1f} | {b_rate:.3g} | {r['fresh']:.1f} | {c_rate:.3g} | {b_rate / a_rate:.2f}× "
              f"| {b_rate / c_rate:.1f}× | {r['flops'] / 1e12:.3g} | {a_tf / 1e12:.3g} / {b_tf / 1e12:.3g} "
              f"| {peak_bf16 / 1e12:.3g} | {a_tf / peak_bf16:.1%} / {b_tf / peak_bf16:.1%} |")


if __name__ == "__main__":
    main()
