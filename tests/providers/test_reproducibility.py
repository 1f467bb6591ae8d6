"""What a local generation records to be reproduced, and the samplers/options it accepts."""

from __future__ import annotations

import numpy as np
import pytest

import imagen_nb as inb

pytestmark = pytest.mark.slow


def pixels(product):
    return np.asarray(product.image, dtype=np.int16)


def test_same_parameters_same_image_and_a_complete_return_set(home):
    with inb.Studio() as studio:
        a = studio.order("diffusers:tiny", prompt="a fox", seed=3).wait(300)
        ret = a.generations.return_params[0]
        assert len(ret["model_hash"]) == 64
        assert ret["scheduler"] == "DPM++ 2M" and ret["scheduler_class"] == "DPMSolverMultistepScheduler"
        assert ret["scheduler_config"]["algorithm_type"] == "dpmsolver++"
        assert {"torch", "diffusers", "device", "dtype", "seed"} <= set(ret)
        first = pixels(a.products[0])
    with inb.Studio() as again:  # a new process-level pipeline load: same hash, same pixels
        b = again.order("diffusers:tiny", prompt="a fox", seed=3).wait(300)
        assert b.generations.return_params[0]["model_hash"] == ret["model_hash"]
        assert np.array_equal(pixels(b.products[0]), first)


def test_lcm_sampler_and_clip_skip(studio):
    base = studio.order("diffusers:tiny", prompt="a fox", seed=5).wait(300)
    lcm = studio.order("diffusers:tiny", prompt="a fox", seed=5, scheduler="LCM").wait(300)
    skip = studio.order("diffusers:tiny", prompt="a fox", seed=5, clip_skip=1).wait(300)
    assert lcm.status == skip.status == "fulfilled"
    assert lcm.generations.return_params[0]["scheduler_class"] == "LCMScheduler"
    assert skip.generations.actual_params[0]["clip_skip"] == 1
    assert np.abs(pixels(skip.products[0]) - pixels(base.products[0])).max() > 0
    with pytest.raises(inb.ValidationError, match="clip_skip"):
        studio.order("diffusers:tiny", prompt="a fox", clip_skip=0)


def test_vae_tiling_for_large_images_and_slicing_settings(home):
    import imagen_nb as inb

    settings = {"diffusers": {"vae_tiling_min_pixels": 96 * 96}}
    with inb.Studio(providers=settings) as studio:
        small = studio.order("diffusers:tiny", prompt="a fox", seed=1).wait(300)
        large = studio.order("diffusers:tiny", prompt="a fox", seed=1, width=128, height=128).wait(300)
        assert small.generations.return_params[0]["vae_tiling"] is False
        ret = large.generations.return_params[0]
        assert ret["vae_tiling"] is True and ret["attention_slicing"] is False  # CPU: no slicing
        assert large.products[0].image.size == (128, 128)
        after = studio.order("diffusers:tiny", prompt="a fox", seed=1).wait(300)  # tiling switched back off
        assert after.generations.return_params[0]["vae_tiling"] is False
        assert np.array_equal(pixels(after.products[0]), pixels(small.products[0]))
    with inb.Studio(providers={"diffusers": {"vae_slicing": True, "vae_tiling": False}}) as forced:
        ret = forced.order("diffusers:tiny", prompt="x", seed=2, width=128, height=128).wait(300) \
            .generations.return_params[0]
        assert (ret["vae_tiling"], ret["vae_slicing"]) == (False, True)
    with pytest.raises(inb.ProviderError, match="diffusers setting vae_tiling must be 'auto', True or False; got 'sometimes'"):
        inb.Studio(providers={"diffusers": {"vae_tiling": "sometimes"}})
    inb.Studio().close()  # the failed open released the home
