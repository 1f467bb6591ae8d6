"""Hires fix as one order option: base size → upscale → image-to-image, recorded so it reproduces."""

from __future__ import annotations

import numpy as np
import pytest

from imagen_nb.core.errors import ValidationError

pytestmark = pytest.mark.slow


def pixels(product):
    return np.asarray(product.image)


@pytest.mark.parametrize("upscaler", ["lanczos", "tiny-esrgan"])
def test_hires_makes_the_larger_image_and_reproduces(upscale_studio, upscaler):
    args = dict(prompt="a cat", seed=3, num_inference_steps=4, hires_scale=2, hires_upscaler=upscaler,
                hires_strength=0.5)
    first = upscale_studio.order("diffusers:tiny", **args).wait(180)
    again = upscale_studio.order("diffusers:tiny", **args).wait(180)
    assert first.status == again.status == "fulfilled", (first.errors, again.errors)
    (product,) = first.products
    assert (product.width, product.height) == (128, 128)
    assert np.array_equal(pixels(product), pixels(again.products[0]))
    actual = first.generations.actual_params[0]
    assert {k: actual[k] for k in ("hires_scale", "hires_upscaler", "hires_strength")} == \
        {"hires_scale": 2, "hires_upscaler": upscaler, "hires_strength": 0.5}
    hires = first.generations.return_params[0]["hires"]
    assert hires["base_size"] == [64, 64] and hires["size"] == [128, 128] and hires["denoising_steps"] == 2
    assert hires["upscaler"] == ("lanczos" if upscaler == "lanczos" else "diffusers:tiny-esrgan")


def test_hires_changes_the_image_and_its_strength_matters(upscale_studio):
    base = dict(prompt="a cat", seed=5, num_inference_steps=4)
    plain = upscale_studio.order("diffusers:tiny", **base).wait(120)
    weak = upscale_studio.order("diffusers:tiny", **base, hires_scale=1.5, hires_strength=0.25).wait(180)
    strong = upscale_studio.order("diffusers:tiny", **base, hires_scale=1.5, hires_strength=1.0).wait(180)
    assert (weak.products[0].width, plain.products[0].width) == (96, 64)
    assert not np.array_equal(pixels(weak.products[0]), pixels(strong.products[0]))
    assert "hires" not in plain.generations.return_params[0]
    assert not any(k.startswith("hires") for k in plain.generations.actual_params[0])


def test_hires_progress_counts_both_passes(upscale_studio):
    from imagen_nb.core.records import GenerationProgress

    seen = []
    with upscale_studio.subscribe(lambda e: seen.append((e.step, e.total)) if isinstance(e, GenerationProgress)
                                  else None):
        order = upscale_studio.order("diffusers:tiny", prompt="x", seed=1, num_inference_steps=4, hires_scale=2,
                                     hires_strength=0.5).wait(180)
    assert order.status == "fulfilled", order.errors
    assert seen and seen[-1] == (6, 6), seen  # 4 base steps + int(4 × 0.5) redraw steps
    assert [s for s, _ in seen] == sorted(s for s, _ in seen)


def test_bad_hires_options_are_refused_before_anything_runs(upscale_studio, tmp_path):
    from media import png_bytes

    with pytest.raises(ValidationError, match="applies to the hires fix only") as err:
        upscale_studio.order("diffusers:tiny", prompt="x", hires_strength=0.3)
    assert err.value.param == "hires_strength"
    with pytest.raises(ValidationError, match="neither 'lanczos' nor a model"):
        upscale_studio.order("diffusers:tiny", prompt="x", hires_scale=2, hires_upscaler="no-such-upscaler")
    with pytest.raises(ValidationError, match="is a text-to-image model"):
        upscale_studio.order("diffusers:tiny", prompt="x", hires_scale=2, hires_upscaler="tiny")
    path = tmp_path / "in.png"
    path.write_bytes(png_bytes(64, 64))
    with pytest.raises(ValidationError, match="applies to text-to-image"):
        upscale_studio.order("diffusers:tiny", prompt="x", image=str(path), hires_scale=2)
    with pytest.raises(ValidationError, match="at most 4096"):
        upscale_studio.order("diffusers:tiny", prompt="x", width=2048, height=2048, hires_scale=4)
    with pytest.raises(ValidationError, match="redraws nothing"):
        upscale_studio.order("diffusers:tiny", prompt="x", num_inference_steps=2, hires_scale=2, hires_strength=0.2)
    assert upscale_studio.sql("select count(*) as n from generations")["n"][0] == 0


def test_hires_defaults_fill_in_only_when_it_is_on(tiny_provider):
    factory = tiny_provider.factory(tiny_provider.model("tiny"))
    on = factory.validate({"prompt": "x", "hires_scale": 2})
    assert (on["hires_upscaler"], on["hires_strength"]) == ("lanczos", 0.5)
    off = factory.validate({"prompt": "x"})
    assert not [k for k in off if k.startswith("hires")]
