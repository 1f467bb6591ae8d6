"""Tiled super-resolution: tiles cover the image, overlaps blend to the untiled result, tiles halve on
out-of-memory (a fault the CPU cannot produce on demand, so a wrapper raises torch's own error) and a
cancel stops between tiles."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from imagen_nb.core.errors import GenerationCancelled, ProviderError  # noqa: E402
from imagen_nb.providers.diffusers.tiles import MIN_TILE, run_tiled, tile_boxes, to_image, to_tensor  # noqa: E402


class Pointwise(torch.nn.Module):
    """×2 nearest upsampling after a 1×1 conv: every output pixel depends on one input pixel, so tiling
    must give exactly the untiled output whatever the tiles and blending weights."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 1)

    def forward(self, x):
        return torch.nn.functional.interpolate(self.conv(x), scale_factor=2, mode="nearest")


class OutOfMemoryAbove:
    """Raises torch.OutOfMemoryError for inputs larger than ``side`` (what a small GPU does)."""

    def __init__(self, model, side: int):
        self.model, self.side, self.sizes = model, side, []

    def __call__(self, x):
        self.sizes.append(tuple(x.shape[2:]))
        if max(x.shape[2:]) > self.side:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.model(x)


@pytest.mark.parametrize("size,tile,overlap", [(100, 32, 8), (64, 64, 8), (33, 16, 4), (10, 32, 4)])
def test_tiles_cover_every_pixel_and_overlap(size, tile, overlap):
    starts = tile_boxes(size, tile, overlap)
    covered = set()
    for s in starts:
        covered.update(range(s, min(s + tile, size)))
    assert covered == set(range(size))
    assert all(b - a <= tile - overlap for a, b in zip(starts, starts[1:]))


def test_tiled_output_equals_the_untiled_one():
    model = Pointwise().eval()
    x = torch.rand((1, 3, 70, 45), generator=torch.Generator().manual_seed(1))
    whole = run_tiled(model, x, 2, 0, 0)
    tiled = run_tiled(model, x, 2, 24, 6)
    assert whole.tile == 0 and tiled.tile == 24 and tiled.tiles == len(tile_boxes(70, 24, 6)) * len(tile_boxes(45, 24, 6))
    assert tiled.tensor.shape == (1, 3, 140, 90)
    assert torch.allclose(whole.tensor, tiled.tensor, atol=1e-6)


def test_progress_counts_tiles_up_to_the_total():
    seen = []
    run_tiled(Pointwise().eval(), torch.rand((1, 3, 40, 40)), 2, 16, 4, progress=lambda d, t: seen.append((d, t)))
    assert [d for d, _ in seen] == list(range(1, len(seen) + 1)) and seen[-1][0] == seen[-1][1]


def test_out_of_memory_halves_the_tile_until_it_fits():
    model = Pointwise().eval()
    x = torch.rand((1, 3, 160, 160), generator=torch.Generator().manual_seed(2))
    flaky = OutOfMemoryAbove(model, 40)
    result = run_tiled(flaky, x, 2, 0, 8)  # whole image → tiles of half the image (80) → 40 fits
    assert (result.oom_retries, result.tile) == (2, 40)
    assert max(flaky.sizes[-1]) <= 40
    assert torch.allclose(result.tensor, run_tiled(model, x, 2, 0, 0).tensor, atol=1e-6)


def test_out_of_memory_at_the_smallest_tile_says_what_to_do():
    with pytest.raises(ProviderError, match=f"even with {MIN_TILE}-pixel tiles"):
        run_tiled(OutOfMemoryAbove(Pointwise().eval(), 8), torch.rand((1, 3, 80, 80)), 2, 64, 4)


def test_other_errors_are_not_retried():
    calls = []

    def broken(x):
        calls.append(1)
        raise ValueError("wrong channels")

    with pytest.raises(ValueError, match="wrong channels"):
        run_tiled(broken, torch.rand((1, 3, 64, 64)), 2, 16, 4)
    assert len(calls) == 1


def test_cancel_stops_between_tiles():
    done = []
    with pytest.raises(GenerationCancelled, match="after tile 2"):
        run_tiled(Pointwise().eval(), torch.rand((1, 3, 64, 64)), 2, 16, 4,
                  progress=lambda d, t: done.append(d), cancelled=lambda: len(done) >= 2)


def test_images_round_trip_through_tensors():
    from PIL import Image

    im = Image.new("RGB", (5, 3), (10, 200, 255))
    assert to_image(to_tensor(im, "cpu", "float32")).tobytes() == im.tobytes()
