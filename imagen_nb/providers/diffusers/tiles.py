"""Running a super-resolution network over an image in overlapping tiles.

A large image does not go through an SR network in one piece on a modest GPU: its activations
grow with the pixel count. As ComfyUI's "Upscale Image (using Model)" does, the image is cut
into ``tile``-sized squares that overlap by ``overlap`` pixels; each goes through the network on
its own and is blended into the output with weights that ramp linearly across the overlap, so no
seam shows. When a tile runs out of memory the whole pass restarts with tiles half as large,
down to :data:`MIN_TILE`; the tile size that worked is reported (and recorded on the product).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from ...core.errors import GenerationCancelled, ProviderError

MIN_TILE = 32


@dataclass(frozen=True)
class TiledResult:
    """An SR pass's output tensor and how it was made."""

    tensor: Any
    tile: int  # 0: the image went through whole
    tiles: int
    oom_retries: int


def is_oom(exc: BaseException) -> bool:
    """True for a device out-of-memory error (torch's ``OutOfMemoryError`` or its message)."""
    return type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower()


def tile_boxes(size: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of ``tile`` pixels covering ``size`` with at least ``overlap`` between them."""
    if tile >= size:
        return [0]
    step = max(1, tile - overlap)
    count = math.ceil((size - tile) / step) + 1
    starts = [min(i * step, size - tile) for i in range(count)]
    return sorted(set(starts))


def _ramp(length: int, start: int, end: int, total: int, fade: int, torch):
    """1-D blending weights of a tile spanning [start, end) of ``total``: ramps only at inner edges."""
    w = torch.ones(length)
    fade = min(fade, length // 2)
    if fade > 0:
        ramp = torch.linspace(1.0 / (fade + 1), fade / (fade + 1), fade)
        if start > 0:
            w[:fade] = ramp
        if end < total:
            w[-fade:] = ramp.flip(0)
    return w


def run_tiled(model: Callable[[Any], Any], x, scale: int, tile: int, overlap: int,
              progress: Callable[[int, int], None] | None = None,
              cancelled: Callable[[], bool] | None = None) -> TiledResult:
    """Upscale the (1, C, H, W) tensor ``x`` with ``model``, in tiles of ``tile`` px (0: whole first).

    On out-of-memory the pass restarts with half the tile size (a whole-image pass falls back to
    512 px tiles); below :data:`MIN_TILE` the error is raised as a ProviderError saying so.
    """
    import torch

    retries = 0
    _, _, h, w = x.shape
    while True:
        try:
            if tile <= 0 or (tile >= h and tile >= w):
                with torch.inference_mode():
                    out = model(x)
                if progress:
                    progress(1, 1)
                return TiledResult(out, 0, 1, retries)
            return _tiled_pass(model, x, scale, tile, overlap, progress, cancelled, retries)
        except GenerationCancelled:
            raise
        except Exception as exc:
            if not is_oom(exc):
                raise
            if x.device.type == "cuda":
                torch.cuda.empty_cache()
            retries += 1
            tile = 512 if tile <= 0 or (tile >= h and tile >= w) else tile // 2
            tile = min(tile, max(h, w) // 2 if max(h, w) > MIN_TILE else tile)
            if tile < MIN_TILE:
                raise ProviderError(
                    f"out of memory even with {MIN_TILE}-pixel tiles ({h}×{w} input): free device memory"
                    " (close other models) or run this upscaler on a device with more memory") from exc


def _tiled_pass(model, x, scale: int, tile: int, overlap: int, progress, cancelled, retries: int) -> TiledResult:
    import torch

    _, c, h, w = x.shape
    overlap = max(0, min(overlap, tile // 2))
    ys, xs = tile_boxes(h, tile, overlap), tile_boxes(w, tile, overlap)
    total = len(ys) * len(xs)
    out = None
    weight = torch.zeros((1, 1, h * scale, w * scale), dtype=torch.float32, device=x.device)
    done = 0
    for y0 in ys:
        for x0 in xs:
            if cancelled is not None and cancelled():
                raise GenerationCancelled(f"cancelled after tile {done} of {total}")
            y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
            with torch.inference_mode():
                piece = model(x[:, :, y0:y1, x0:x1]).float()
            if out is None:
                out = torch.zeros((1, piece.shape[1], h * scale, w * scale), dtype=torch.float32, device=x.device)
            wy = _ramp(piece.shape[2], y0, y1, h, overlap * scale, torch)
            wx = _ramp(piece.shape[3], x0, x1, w, overlap * scale, torch)
            mask = (wy[:, None] * wx[None, :]).to(x.device)[None, None]
            out[:, :, y0 * scale:y1 * scale, x0 * scale:x1 * scale] += piece * mask
            weight[:, :, y0 * scale:y1 * scale, x0 * scale:x1 * scale] += mask
            done += 1
            if progress:
                progress(done, total)
    assert out is not None
    return TiledResult(out / weight, tile, total, retries)


def to_tensor(image, device: str, dtype: str):
    """A PIL RGB image as a (1, 3, H, W) tensor in [0, 1] on ``device``."""
    import numpy as np
    import torch

    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1)[None].to(device=device, dtype=getattr(torch, dtype))


def to_image(tensor):
    """A (1, 3, H, W) tensor in [0, 1] as a PIL RGB image (clamped, rounded)."""
    import numpy as np
    from PIL import Image

    array = tensor[0].float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(np.round(array * 255.0).astype(np.uint8), "RGB")

