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
