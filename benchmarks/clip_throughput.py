"""CLIP scoring throughput: the studio's batched scorer against calling ``CLIPModel`` in a loop (issue 15).

Both score the same ``--images`` (prompt, image) pairs with the same weights: the baseline calls
``model.get_image_features`` / ``get_text_features`` once per pair, as a simple script would;
ours is :class:`imagen_nb.providers.transformers.scoring.ClipScorer` (batches of ``--batch``).
Images are PNG files read from disk by both, as in the studio. Prints images/s of each and the
ratio (target ≥ 1×), and checks that both give the same scores.

Runs anywhere: on this CPU with the offline tiny CLIP (the default, random weights: the numbers
measure orchestration, not a real model), or on a GPU with a real CLIP folder:

    PYTHONPATH=. .venv/bin/python benchmarks/clip_throughput.py [--images 512] [--batch 32] [--device cpu]
    PYTHONPATH=. .venv/bin/python benchmarks/clip_throughput.py --model /models/clip-vit-large-patch14 --device cuda --images 2048
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a folder with a saved CLIPModel (default: the tiny CLIP, built here)")
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=224, help="side of the PNGs made (px)")
    parser.add_argument("--device", default="cuda" if _cuda() else "cpu")
    args = parser.parse_args()

    import torch
    from PIL import Image

    from imagen_nb.providers.transformers.scoring import ClipScorer
    from imagen_nb.providers.transformers.tiny import ensure_tiny

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.model or str(ensure_tiny("tiny-clip", tmp))
        paths, prompts = [], []
        for i in range(args.images):
            path = Path(tmp) / f"{i}.png"
            buf = io.BytesIO()
            Image.new("RGB", (args.size, args.size), (i * 7 % 256, i * 13 % 256, i * 29 % 256)).save(buf, "PNG")
            path.write_bytes(buf.getvalue())
            paths.append(path)
            prompts.append(f"a swatch number {i}")
        ours = ClipScorer(folder, args.device, batch_size=args.batch)
        model, processor = ours.model, ours.processor
        ours.score(paths[:4], prompts[:4])  # warm up both paths (kernels, allocator)

        def baseline() -> list[float]:
            out = []
            with torch.no_grad():
                for path, prompt in zip(paths, prompts):
                    with Image.open(path) as im:
                        pixels = processor.image_processor(images=im.convert("RGB"), return_tensors="pt")
                    img = model.get_image_features(pixel_values=pixels.pixel_values.to(args.device))
                    tok = processor.tokenizer([prompt], padding=True, truncation=True, return_tensors="pt").to(args.device)
                    txt = model.get_text_features(**tok)
                    img, txt = getattr(img, "pooler_output", img), getattr(txt, "pooler_output", txt)
                    img, txt = img / img.norm(dim=-1, keepdim=True), txt / txt.norm(dim=-1, keepdim=True)
                    out.append(float(100 * (img * txt).sum()))
            return out

        baseline()
        _sync(args.device)
        t0 = time.perf_counter()
        base = baseline()
        _sync(args.device)
        t_base = time.perf_counter() - t0
        t0 = time.perf_counter()
        batched = ours.score(paths, prompts)
        _sync(args.device)
        t_ours = time.perf_counter() - t0
    worst = max(abs(a - b) for a, b in zip(base, batched))
    name = "tiny CLIP (random weights)" if not args.model else args.model
    print("| model | device | images | batch | CLIPModel loop | batched scorer | ratio | max Δscore | load |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {name} | {args.device} | {args.images} | {args.batch} | {args.images / t_base:.1f} img/s | "
          f"{args.images / t_ours:.1f} img/s | {t_base / t_ours:.2f}× | {worst:.1e} | {os.getloadavg()[0]:.2f} |")


def _cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


if __name__ == "__main__":
    main()
