"""LoRA training speed (issue 16): imagen-nb's trainer against diffusers' example loop, and
how an order fares while a run trains.

    python benchmarks/lora_training.py                        # tiny model, CPU: rank 4 and 16
    python benchmarks/lora_training.py --sharing              # + an order alone vs during training
    python benchmarks/lora_training.py --only imagen-nb --text-encoder --buckets   # + those options' cost
    python benchmarks/lora_training.py --model sd15 --ranks 16 --resolution 512 --batch 4 \\
        --precision bf16 --steps 30                           # on a GPU: SD 1.5 architecture

``--model sd15`` builds a Stable Diffusion 1.5-architecture pipeline with random weights on the
machine (nothing is downloaded: the real compute cost, noise for images) and saves it to a
temporary folder both trainers load. Each configuration is timed twice on the same data:

- ``imagen-nb``: :class:`imagen_nb.providers.diffusers.training.LoraTrainer` (latents and caption
  embeddings cached once per image, gradient checkpointing on a GPU);
- ``example``: the training step of diffusers' ``examples/text_to_image/train_text_to_image_lora.py``
  (the VAE encodes the batch and the text encoder its captions at every step, same LoRA config,
  optimizer, accelerate mixed precision and gradient checkpointing on a GPU), written out here
  since the examples are not part of the diffusers wheel.

``--text-encoder`` also times imagen-nb's trainer with ``train_text_encoder=True`` (a LoRA on the
text encoder too, captions encoded every step); ``--buckets`` with ``aspect="bucket"`` on the same
square images (so the same bucket: what the bookkeeping costs, not a different image size).

Prints steps/s (after ``--warmup`` untimed steps) and, on CUDA, peak GPU memory per trainer.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import tempfile
import time
from pathlib import Path


def build_model(kind: str, folder: Path) -> Path:
    """The base model's folder: the tiny model, or an SD 1.5-architecture one with random weights."""
    from imagen_nb.providers.diffusers.tiny import build_tiny_model, make_tiny_pipeline

    if kind == "tiny":
        return build_tiny_model(folder / "tiny")
    import torch
    from diffusers import AutoencoderKL, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    tiny = make_tiny_pipeline()  # its tokenizer and scheduler; the modules get SD 1.5's shapes
    torch.manual_seed(0)
    unet = UNet2DConditionModel(sample_size=64, cross_attention_dim=768, attention_head_dim=8)  # SD 1.5 defaults
    vae = AutoencoderKL(block_out_channels=(128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4,
                        up_block_types=("UpDecoderBlock2D",) * 4, layers_per_block=2, latent_channels=4,
                        sample_size=512)
    text = CLIPTextModel(CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_attention_heads=12,
                                        num_hidden_layers=12, vocab_size=max(49408, len(tiny.tokenizer)),
                                        max_position_embeddings=77, bos_token_id=tiny.tokenizer.bos_token_id,
                                        eos_token_id=tiny.tokenizer.eos_token_id,
                                        pad_token_id=tiny.tokenizer.pad_token_id))
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tiny.tokenizer, unet=unet,
                                   scheduler=tiny.scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.save_pretrained(folder / "sd15")
    return folder / "sd15"


def make_images(folder: Path, n: int, size: int) -> list[Path]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        image = Image.new("RGB", (size, size), (30 * i % 255, 120, 200 - 20 * i % 200))
        image.paste((250, 250, 250), (size // 8, size // 8, size // 2, size // 2 + 8 * i))
        path = folder / f"{i}.png"
        image.save(path)
        out.append(path)
    return out


def examples_for(paths: list[Path], size: int):
    from imagen_nb.core.training import TrainingExample

    return [TrainingExample(f"p{i}", str(p), "0" * 64, size, size, f"a square number {i}") for i, p in enumerate(paths)]


def config_for(args, rank: int, **options):
    from imagen_nb.core.training import TrainingConfig

    return TrainingConfig(steps=args.warmup + args.steps, rank=rank, alpha=rank, learning_rate=1e-4,
                          resolution=args.resolution, batch_size=args.batch, seed=0, caption_dropout=0.05,
                          mixed_precision=args.precision, checkpoint_every=0, **options)


def time_steps(step, args) -> float:
    """steps/s of ``step(i)`` over ``args.steps`` steps after ``args.warmup``."""
    import torch

    for i in range(args.warmup):
        step(i)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    started = time.perf_counter()
    for i in range(args.warmup, args.warmup + args.steps):
        step(i)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return args.steps / (time.perf_counter() - started)


def run_ours(model_dir: Path, examples, args, rank: int, device: str, **options) -> dict:
    from imagen_nb.providers.diffusers.models import tiny_model
    from imagen_nb.providers.diffusers.training import LoraTrainer

    trainer = LoraTrainer(tiny_model(), str(model_dir), examples, config_for(args, rank, **options), device, {})
    started = time.perf_counter()
    trainer.prepare()
    prepare = time.perf_counter() - started
    speed = time_steps(trainer.step, args)
    return {"steps_per_second": speed, "prepare_seconds": prepare}


def run_example(model_dir: Path, paths: list[Path], args, rank: int, device: str) -> dict:
    """The step of diffusers' train_text_to_image_lora.py: encode images and captions every step."""
    import torch
    import torch.nn.functional as F
    from accelerate import Accelerator
    from diffusers import DDPMScheduler, StableDiffusionPipeline
    from diffusers.image_processor import VaeImageProcessor
    from diffusers.optimization import get_scheduler
    from diffusers.training_utils import cast_training_params
    from peft import LoraConfig
    from PIL import Image

    precision = args.precision or ("bf16" if device.startswith("cuda") else "no")
    accelerator = Accelerator(mixed_precision=precision, cpu=not device.startswith("cuda"))
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision, torch.float32)
    base = StableDiffusionPipeline.from_pretrained(str(model_dir))
    unet, vae, text, tokenizer = base.unet, base.vae, base.text_encoder, base.tokenizer
    noise_scheduler = DDPMScheduler.from_config(base.scheduler.config)
    for m in (unet, vae, text):
        m.requires_grad_(False)
        m.to(accelerator.device, dtype=dtype)
    unet.add_adapter(LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian",
                                target_modules=["to_k", "to_q", "to_v", "to_out.0"]))
    if precision == "fp16":
        cast_training_params(unet, dtype=torch.float32)
    if device.startswith("cuda"):
        unet.enable_gradient_checkpointing()
    params = [p for p in unet.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.999), weight_decay=1e-2, eps=1e-8)
    lr_scheduler = get_scheduler("constant", optimizer=optimizer)
    unet, optimizer, lr_scheduler = accelerator.prepare(unet, optimizer, lr_scheduler)
    processor = VaeImageProcessor(vae_scale_factor=2 ** (len(vae.config.block_out_channels) - 1))
    pixels = torch.cat([processor.preprocess(Image.open(p).convert("RGB"), height=args.resolution,
                                             width=args.resolution, resize_mode="crop") for p in paths])
    ids = tokenizer([f"a square number {i}" for i in range(len(paths))], padding="max_length",
                    max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt").input_ids

    def step(i: int) -> None:
        rows = [(i * args.batch + k) % len(paths) for k in range(args.batch)]
        batch = pixels[rows].to(accelerator.device, dtype=dtype)
        latents = vae.encode(batch).latent_dist.sample() * vae.config.scaling_factor
        noise = torch.randn_like(latents)
        timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (len(rows),), device=latents.device)
        noisy = noise_scheduler.add_noise(latents, noise, timesteps)
        hidden = text(ids[rows].to(accelerator.device), return_dict=False)[0]
        # the example's target: the noise, or the velocity for a v-prediction scheduler (the tiny model's)
        if noise_scheduler.config.prediction_type == "v_prediction":
            target = noise_scheduler.get_velocity(latents, noise, timesteps)
        else:
            target = noise
        prediction = unet(noisy, timesteps, hidden, return_dict=False)[0]
        loss = F.mse_loss(prediction.float(), target.float(), reduction="mean")
        accelerator.backward(loss)
        if accelerator.sync_gradients:
            accelerator.clip_grad_norm_(params, 1.0)
        optimizer.step()
        lr_scheduler.step()
        optimizer.zero_grad()

    return {"steps_per_second": time_steps(step, args)}


def measured(fn, device: str) -> dict:
    import torch

    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    out = fn()
    if device.startswith("cuda"):
        out["peak_gpu_gib"] = torch.cuda.max_memory_allocated() / 2**30
    return out


def sharing(args) -> dict:
    """Seconds an order of 4 tiny generations takes alone, and placed while a run trains."""
    import imagen_nb as inb

    with tempfile.TemporaryDirectory() as home:
        studio = inb.Studio(home, serve=False)
        try:
            seed = studio.order("diffusers:tiny", prompt="a [red,blue] [cat,dog]", seed=1, num_inference_steps=4).wait()
            ids = [p.id for p in seed.products]
            alone = []
            for i in range(3):
                started = time.perf_counter()
                studio.order("diffusers:tiny", prompt="a [red,blue] [cat,dog]", seed=10 + i, num_inference_steps=8).wait()
                alone.append(time.perf_counter() - started)
            run = studio.train_lora("bench", products=ids, steps=100_000, rank=4, resolution=64, batch_size=4,
                                    checkpoint_every=0, seed=1)
            while run.step < 5:
                time.sleep(0.2)
            during = []
            for i in range(3):
                started = time.perf_counter()
                studio.order("diffusers:tiny", prompt="a [red,blue] [cat,dog]", seed=10 + i, num_inference_steps=8).wait()
                during.append(time.perf_counter() - started)
            run.cancel()
            run.wait()
            steps = run.metrics()
            step_seconds = statistics.median(args.batch / steps["images_per_second"].iloc[2:]) if len(steps) > 3 else None
        finally:
            studio.close()
    return {"order_alone_s": statistics.median(alone), "order_during_training_s": statistics.median(during),
            "training_step_s": step_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=("tiny", "sd15"), default="tiny")
    parser.add_argument("--ranks", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--resolution", type=int, default=None, help="default: 64 (tiny), 512 (sd15)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--precision", choices=("no", "fp16", "bf16"), default=None,
                        help="default: bf16 on CUDA, no on the CPU")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--sharing", action="store_true", help="also time an order alone vs during training")
    parser.add_argument("--only", choices=("both", "imagen-nb", "example"), default="both")
    parser.add_argument("--text-encoder", action="store_true", help="also imagen-nb with train_text_encoder=True")
    parser.add_argument("--buckets", action="store_true", help="also imagen-nb with aspect='bucket'")
    args = parser.parse_args()
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and args.precision is None:
        args.precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    args.resolution = args.resolution or (64 if args.model == "tiny" else 512)
    results = {"model": args.model, "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
               "torch_threads": torch.get_num_threads(), "resolution": args.resolution, "batch": args.batch,
               "precision": args.precision or "no", "steps": args.steps, "load": os.getloadavg(), "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_model(args.model, Path(tmp))
        paths = make_images(Path(tmp) / "images", args.images, args.resolution)
        examples = examples_for(paths, args.resolution)
        for rank in args.ranks:
            if args.only in ("both", "imagen-nb"):
                row = measured(lambda: run_ours(model_dir, examples, args, rank, device), device)
                results["runs"].append({"trainer": "imagen-nb", "rank": rank, **row})
                print(json.dumps(results["runs"][-1]), flush=True)
                variants = ([("imagen-nb text encoder", {"train_text_encoder": True})] if args.text_encoder else []) \
                    + ([("imagen-nb buckets", {"aspect": "bucket"})] if args.buckets else [])
                for label, options in variants:
                    row = measured(lambda: run_ours(model_dir, examples, args, rank, device, **options), device)
                    results["runs"].append({"trainer": label, "rank": rank, **row})
                    print(json.dumps(results["runs"][-1]), flush=True)
            if args.only in ("both", "example"):
                row = measured(lambda: run_example(model_dir, paths, args, rank, device), device)
                results["runs"].append({"trainer": "example", "rank": rank, **row})
                print(json.dumps(results["runs"][-1]), flush=True)
    if args.sharing:
        results["sharing"] = sharing(args)
    results["load_after"] = os.getloadavg()
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
