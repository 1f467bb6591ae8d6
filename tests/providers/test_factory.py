"""Running the tiny model through the diffusers factory: the real pipeline code on the CPU."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from imagen_nb.core.errors import GenerationCancelled, ValidationError
from imagen_nb.core.records import GenerationResult, ModelLoaded
from imagen_nb.providers.diffusers.tiny import TINY_DIRNAME

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny(tiny_provider):
    return tiny_provider.model("tiny")


def run_one(provider, model, ctx, request):
    (result,) = provider.factory(model).run([request], ctx)
    return result


def pixels(result: GenerationResult) -> list[bytes]:
    return [Image.open(io.BytesIO(o.data)).convert("RGB").tobytes() for o in result.outputs]


def test_a_run_returns_a_png_of_the_asked_size(tiny_provider, tiny, ctx, request_for):
    result = run_one(tiny_provider, tiny, ctx, request_for(tiny, prompt="a cat", seed=7))
    assert isinstance(result, GenerationResult), result
    (output,) = result.outputs
    assert output.media_type == "image/png" and output.data.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(output.data))
    assert (image.format, image.size, image.mode) == ("PNG", (64, 64), "RGB")
    assert result.actual == {
        "prompt": "a cat",
        "negative_prompt": "",
        "width": 64,
        "height": 64,
        "num_inference_steps": 4,
        "guidance_scale": 7.5,
        "seed": 7,
        "num_images_per_prompt": 1,
        "scheduler": "DPM++ 2M",
    }
    returned = result.returned
    assert returned["seed"] == 7 and returned["scheduler"] == "DPM++ 2M"
    assert returned["scheduler_class"] == "DPMSolverMultistepScheduler"
    assert (returned["device"], returned["dtype"]) == ("cpu", "float32")
    assert returned["torch"] and returned["diffusers"] and returned["seconds"] > 0
    assert returned["model_path"].endswith(TINY_DIRNAME)


def test_the_same_seed_gives_the_same_image_and_another_seed_another(tiny_provider, tiny, ctx, request_for):
    first, again, other = (
        run_one(tiny_provider, tiny, ctx, request_for(tiny, prompt="a cat", seed=seed)) for seed in (1, 1, 2)
    )
    assert first.outputs[0].data == again.outputs[0].data
    assert pixels(first) != pixels(other)


def test_a_missing_seed_is_picked_and_recorded(tiny_provider, tiny, ctx, request_for):
    result = run_one(tiny_provider, tiny, ctx, request_for(tiny, prompt="a cat"))
    seed = result.actual["seed"]
    assert isinstance(seed, int) and 0 <= seed < 2**32 and result.returned["seed"] == seed
    replay = run_one(tiny_provider, tiny, ctx, request_for(tiny, prompt="a cat", seed=seed))
    assert pixels(replay) == pixels(result)


def test_progress_is_reported_once_per_step(tiny_provider, tiny, ctx, request_for):
    request = request_for(tiny, prompt="a cat", seed=1, num_inference_steps=4)
    run_one(tiny_provider, tiny, ctx, request)
    assert ctx.progress_calls == [(request.generation_id, i, 4) for i in (1, 2, 3, 4)]


def test_cancelling_after_the_first_step_stops_and_returns_no_image(tiny_provider, tiny, make_ctx, request_for):
    ctx = make_ctx(cancel_after=1)
    request = request_for(tiny, prompt="a cat", seed=1, num_inference_steps=4)
    result = run_one(tiny_provider, tiny, ctx, request)
    assert isinstance(result, GenerationCancelled)
    assert "after step 1 of 4" in str(result)
    assert len(ctx.progress_calls) == 1 < 4


def test_a_generation_cancelled_before_it_starts_does_not_run(tiny_provider, tiny, ctx, request_for):
    request = request_for(tiny, prompt="a cat", seed=1)
    ctx.cancelled_ids.add(request.generation_id)
    assert isinstance(run_one(tiny_provider, tiny, ctx, request), GenerationCancelled)
    assert ctx.progress_calls == []


def test_a_second_run_does_not_reload_the_pipeline(fresh_provider, ctx, request_for):
    model = fresh_provider.model("tiny")
    factory = fresh_provider.factory(model)
    factory.run([request_for(model, prompt="a cat", seed=1)], ctx)
    fresh_provider.factory(model).run([request_for(model, prompt="a dog", seed=2)], ctx)
    loads = [e for e in ctx.events if isinstance(e, ModelLoaded)]
    assert len(loads) == 1
    assert (loads[0].model_id, loads[0].device) == ("diffusers:tiny", "cpu") and loads[0].seconds > 0
    fresh_provider.close()  # frees the pipeline: the next run loads again
    factory.run([request_for(model, prompt="a cat", seed=1)], ctx)
    assert sum(isinstance(e, ModelLoaded) for e in ctx.events) == 2


def test_a_local_folder_runs_like_tiny(tiny_provider, tiny, tiny_path, ctx, request_for):
    model = tiny_provider.model(str(tiny_path))
    assert model.family == "stable-diffusion-1" and model.spec["properties"]["width"]["default"] == 64
    from_folder = run_one(tiny_provider, model, ctx, request_for(model, prompt="a cat", seed=3, num_inference_steps=4))
    from_tiny = run_one(tiny_provider, tiny, ctx, request_for(tiny, prompt="a cat", seed=3))
    assert isinstance(from_folder, GenerationResult), from_folder
    assert from_folder.returned["model_path"] == str(tiny_path.resolve())
    assert pixels(from_folder) == pixels(from_tiny)


def test_several_images_per_generation(tiny_provider, tiny, ctx, request_for):
    result = run_one(tiny_provider, tiny, ctx, request_for(tiny, prompt="a cat", seed=1, num_images_per_prompt=2))
    assert len(result.outputs) == 2
    first, second = pixels(result)
    assert first != second


def test_every_scheduler_runs_and_is_reported(tiny_provider, tiny, ctx, request_for):
    from imagen_nb.providers.diffusers.schedulers import SCHEDULERS

    for name, (class_name, _) in SCHEDULERS.items():
        result = run_one(tiny_provider, tiny, ctx, request_for(tiny, prompt="a cat", seed=1, num_inference_steps=2, scheduler=name))
        assert isinstance(result, GenerationResult), (name, result)
        assert result.returned["scheduler_class"] == class_name
        again = run_one(tiny_provider, tiny, ctx, request_for(tiny, prompt="a cat", seed=1, num_inference_steps=2, scheduler=name))
        assert pixels(again) == pixels(result), name


def test_a_failing_request_does_not_stop_the_others(tiny_provider, tiny, ctx, request_for):
    bad = request_for(tiny, prompt="a cat", width=65)
    good = request_for(tiny, prompt="a cat", seed=1)
    failed, done = tiny_provider.factory(tiny).run([bad, good], ctx)
    assert isinstance(failed, ValidationError) and failed.param == "width"
    assert isinstance(done, GenerationResult)


def test_the_lane_is_this_machines_device(tmp_path):
    import torch

    from imagen_nb.providers.base import ProviderContext
    from imagen_nb.providers.diffusers import DiffusersProvider

    provider = DiffusersProvider(ProviderContext(home=tmp_path))
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert provider.lane(provider.model("tiny")) == f"diffusers:{expected}"
