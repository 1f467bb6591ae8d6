"""Parameter set validation: defaults, number coercion and messages that teach the fix."""

from __future__ import annotations

import pytest

from imagen_nb.core.errors import ValidationError
from imagen_nb.providers.base import Factory
from imagen_nb.providers.diffusers.specs import SDXL, text_to_image_spec, tiny_spec
from imagen_nb.providers.spec import (
    bool_property,
    check_spec,
    enum_property,
    int_property,
    number_property,
    object_spec,
    prompt_property,
    spec_defaults,
    validate_params,
)

MODEL = "diffusers:tiny"


@pytest.fixture
def spec():
    return tiny_spec()


def check(spec, **params):
    return validate_params(spec, params, model_id=MODEL)


def fails(spec, param: str, match: str, **params) -> ValidationError:
    with pytest.raises(ValidationError, match=match) as info:
        check(spec, **params)
    assert info.value.param == param
    assert "\n" not in str(info.value)
    return info.value


def test_defaults_are_filled_in_spec_order_without_touching_the_input(spec):
    given = {"num_inference_steps": 2, "prompt": "a cat"}
    out = check(spec, **given)
    assert given == {"num_inference_steps": 2, "prompt": "a cat"}
    assert out == {
        "prompt": "a cat",
        "negative_prompt": "",
        "width": 64,
        "height": 64,
        "num_inference_steps": 2,
        "guidance_scale": 7.5,
        "num_images_per_prompt": 1,
        "scheduler": "DPM++ 2M",
        "strength": 0.6,  # the spec's default; the diffusers factory keeps it only with an image
    }
    assert list(out) == [k for k in spec["properties"] if k in out]
    assert "seed" not in out  # no default: the factory picks one and records it


def test_spec_defaults_lists_every_declared_default(spec):
    defaults = spec_defaults(spec)
    assert defaults["width"] == 64 and defaults["num_inference_steps"] == 4
    assert "prompt" not in defaults and "seed" not in defaults
    sd1 = spec_defaults(text_to_image_spec())
    assert (sd1["width"], sd1["height"], sd1["num_inference_steps"]) == (512, 512, 25)
    assert spec_defaults(text_to_image_spec(SDXL))["width"] == 1024


def test_unknown_parameter_suggests_the_closest_and_lists_the_accepted(spec):
    err = fails(spec, "num_inference_stpes", r"has no parameter 'num_inference_stpes'\. Did you mean 'num_inference_steps'\?", prompt="x", num_inference_stpes=3)
    assert "Accepted: prompt, negative_prompt, width, height, num_inference_steps" in err.message
    assert MODEL in err.message


def test_names_other_tools_use_are_pointed_to_the_diffusers_name(spec):
    fails(spec, "steps", r"no parameter 'steps'\. Did you mean 'num_inference_steps'\?", prompt="x", steps=4)
    fails(spec, "cfg", r"Did you mean 'guidance_scale'\?", prompt="x", cfg=7)
    fails(spec, "stpes", r"Did you mean 'num_inference_steps'\?", prompt="x", stpes=4)


def test_several_unknown_parameters_are_all_named(spec):
    fails(spec, "steps", r"also unknown: 'cfg'", prompt="x", steps=3, cfg=7)


def test_below_minimum(spec):
    fails(spec, "num_inference_steps", r"num_inference_steps must be ≥ 1; got 0", prompt="x", num_inference_steps=0)


def test_above_maximum(spec):
    fails(spec, "guidance_scale", r"guidance_scale must be ≤ 30; got 31\.5", prompt="x", guidance_scale=31.5)


def test_multiple_of_suggests_the_neighbours(spec):
    fails(spec, "width", r"width must be a multiple of 8; got 65 — try 64 or 72", prompt="x", width=65)


def test_multiple_of_suggests_only_neighbours_in_range():
    spec = object_spec({"n": int_property(8, 100, None, "n", 8)})
    fails(spec, "n", r"n must be a multiple of 8; got 99 — try 96$", n=99)


def test_enum_lists_choices_and_suggests(spec):
    err = fails(spec, "scheduler", r"scheduler must be one of 'DPM\+\+ 2M', .*'Euler'.*; got 'eulr'\. Did you mean 'Euler'\?", prompt="x", scheduler="eulr")
    assert "'UniPC'" in err.message


def test_enum_suggestion_ignores_case(spec):
    fails(spec, "scheduler", r"got 'ddim'\. Did you mean 'DDIM'\?", prompt="x", scheduler="ddim")


def test_wrong_type(spec):
    fails(spec, "seed", r"seed must be an integer; got 'abc'", prompt="x", seed="abc")
    fails(spec, "prompt", r"prompt must be a string; got 3", prompt=3)


def test_booleans_are_not_numbers(spec):
    fails(spec, "num_inference_steps", r"must be an integer; got true", prompt="x", num_inference_steps=True)


def test_missing_required(spec):
    fails(spec, "prompt", r"prompt is required by diffusers:tiny: What the image shows", width=64)
    fails(spec, "prompt", r"prompt is required", prompt=None)


def test_integral_floats_become_ints_and_ints_are_numbers(spec):
    out = check(spec, prompt="x", num_inference_steps=4.0, width=128.0, guidance_scale=7, seed=3.0)
    assert out["num_inference_steps"] == 4 and type(out["num_inference_steps"]) is int
    assert type(out["width"]) is int and type(out["seed"]) is int
    assert out["guidance_scale"] == 7
    fails(spec, "num_inference_steps", r"must be an integer; got 4\.5", prompt="x", num_inference_steps=4.5)


def test_numeric_strings_are_read_as_numbers(spec):
    out = check(spec, prompt="x", seed="42", guidance_scale=" 6.5 ", num_inference_steps="8.0")
    assert (out["seed"], out["guidance_scale"], out["num_inference_steps"]) == (42, 6.5, 8)


def test_numpy_scalars_are_accepted(spec):
    np = pytest.importorskip("numpy", reason="numpy scalars come from users' own code")
    out = check(spec, prompt="x", seed=np.int64(5), guidance_scale=np.float32(3.5))
    assert type(out["seed"]) is int and out["seed"] == 5
    assert type(out["guidance_scale"]) is float and out["guidance_scale"] == 3.5


def test_none_means_absent(spec):
    out = check(spec, prompt="x", seed=None, width=None)
    assert "seed" not in out and out["width"] == 64


def test_non_finite_numbers_are_refused(spec):
    fails(spec, "guidance_scale", r"guidance_scale must be a finite number; got nan", prompt="x", guidance_scale=float("nan"))
    fails(spec, "seed", r"seed must be an integer; got inf", prompt="x", seed=float("inf"))


def test_seed_range(spec):
    fails(spec, "seed", r"seed must be ≤ 4294967295; got 4294967296", prompt="x", seed=2**32)
    fails(spec, "seed", r"seed must be ≥ 0; got -1", prompt="x", seed=-1)


def test_first_problem_in_spec_order_is_reported(spec):
    fails(spec, "width", r"^width", prompt="x", num_inference_steps=0, width=65)


def test_parameters_must_be_a_mapping(spec):
    with pytest.raises(ValidationError, match=r"must be a mapping"):
        validate_params(spec, ["prompt"], model_id=MODEL)


def test_extra_parameters_pass_where_the_spec_allows_them():
    spec = object_spec({"prompt": prompt_property()}, required=["prompt"], additional=True)
    assert check(spec, prompt="x", sync_mode=True) == {"prompt": "x", "sync_mode": True}


def test_helpers_build_valid_schemas():
    spec = object_spec(
        {
            "prompt": prompt_property(),
            "strength": number_property(0, 1, 0.8, "How much to change.", title="Strength"),
            "fast": bool_property(False, "Go fast."),
            "size": enum_property(["square", "portrait"], "square", "Shape."),
            "n": int_property(1, 4, 1, "How many."),
        },
        required=["prompt"],
    )
    for each in (spec, tiny_spec(), text_to_image_spec(), text_to_image_spec(SDXL)):
        check_spec(each)
    assert spec["properties"]["size"]["type"] == "string"
    assert spec_defaults(spec) == {"strength": 0.8, "fast": False, "size": "square", "n": 1}
    fails(spec, "fast", r"fast must be true or false; got 'yes'", prompt="x", fast="yes")


def test_factory_validate_uses_the_model_spec():
    from imagen_nb.core.records import ModelInfo

    class Echo(Factory):
        def run(self, requests, ctx):
            return []

    model = ModelInfo("diffusers", "tiny", "text-to-image", "stable-diffusion-1", tiny_spec())
    assert Echo(model).validate({"prompt": "x"})["num_inference_steps"] == 4
    with pytest.raises(ValidationError, match="diffusers:tiny has no parameter 'stesp'"):
        Echo(model).validate({"prompt": "x", "stesp": 4})
