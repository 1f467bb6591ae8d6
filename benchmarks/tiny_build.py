"""Build time of the offline ``diffusers:tiny`` model, and how faithfully its VAE gives colours back.

Each round builds the tiny model into a fresh folder with :func:`build_tiny_model` (make the
pipeline, ``save_pretrained``, rename into place), as the first use in a new home does (every test
with its own home pays it). ``import diffusers`` is paid before measuring. Then the saved VAE is
loaded with ``AutoencoderKL.from_pretrained`` and eight solid 64² colours are encoded (a posterior
sample, as LoRA training draws) and decoded: the largest and the mean distance from the colour, in
levels of 255 per channel.

    .venv/bin/python benchmarks/tiny_build.py [ROUNDS]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (128, 128, 128), (255, 255, 255), (0, 0, 0), (20, 30, 40),
           (200, 120, 40)]


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    import diffusers  # noqa: F401  (paid once, outside the measurements)
    import torch
    from diffusers import AutoencoderKL

    from imagen_nb.providers.diffusers.tiny import TINY_DIRNAME, build_tiny_model

    seconds = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(rounds):
            started = time.perf_counter()
            folder = build_tiny_model(Path(tmp) / str(i) / TINY_DIRNAME)
            seconds.append(time.perf_counter() - started)
        vae = AutoencoderKL.from_pretrained(folder / "vae")
    worst, errors = 0.0, []
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for colour in COLOURS:
            target = torch.tensor(colour, dtype=torch.float32).view(1, 3, 1, 1)
            x = (target / 127.5 - 1).expand(1, 3, 64, 64).contiguous()
            y = vae.decode(vae.encode(x).latent_dist.sample(generator=g)).sample.clamp(-1, 1)
            error = ((y + 1) * 127.5 - target).abs()
            worst = max(worst, float(error.max()))
            errors.append(float(error.mean()))
    print(f"{TINY_DIRNAME}: build {statistics.median(seconds):.2f} s median, {min(seconds):.2f} s min over {rounds}"
          f" rounds; VAE round trip of {len(COLOURS)} solid colours: max {worst:.1f}, mean"
          f" {statistics.mean(errors):.1f} levels of 255")


if __name__ == "__main__":
    main()
