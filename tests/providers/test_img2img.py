"""Image-to-image on the tiny model through the diffusers factory: the real img2img pipeline on the CPU."""

from __future__ import annotations

import hashlib
import http.server
import io
import threading

import numpy as np
import pytest
from PIL import Image

from imagen_nb.core.errors import GenerationCancelled, ProviderError, ValidationError
from imagen_nb.core.records import GenerationResult, ModelLoaded

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny(tiny_provider):
    return tiny_provider.model("tiny")


def gradient(width: int, height: int, *, inverted: bool = False) -> Image.Image:
    """A red-left-to-right, blue-top-to-bottom gradient: an input with structure."""
    a = np.zeros((height, width, 3), np.uint8)
    a[..., 0] = np.linspace(0, 255, width)[None, :]
    a[..., 2] = np.linspace(0, 255, height)[:, None]
    return Image.fromarray(255 - a if inverted else a)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Two 64×64 inputs, one the negative of the other, and a 100×75 one (not multiples of 8)."""
    folder = tmp_path_factory.mktemp("inputs")
    paths = {}
    for name, image in (("a", gradient(64, 64)), ("b", gradient(64, 64, inverted=True)), ("odd", gradient(75, 100))):
        paths[name] = folder / f"{name}.png"
        image.save(paths[name])
    return paths


def run_one(provider, model, ctx, request):
    (result,) = provider.factory(model).run([request], ctx)
    assert isinstance(result, (GenerationResult, BaseException))
    return result


def array(result: GenerationResult, index: int = 0) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(result.outputs[index].data)).convert("RGB"), dtype=np.int16)


def test_every_diffusers_model_takes_an_optional_image(tiny, tiny_provider):
    props = tiny.spec["properties"]
    assert props["image"]["format"] == "uri"  # the Studio turns product ids into files for it
    assert props["strength"]["default"] == 0.6 and (props["strength"]["minimum"], props["strength"]["maximum"]) == (0, 1)
    assert tiny.supports_image_to_image and tiny.type == "text-to-image"
    from imagen_nb.providers.instant import MODEL

    assert not MODEL.supports_image_to_image


def test_image_to_image_from_a_file_gives_the_asked_size_and_records_its_input(
        tiny_provider, tiny, ctx, request_for, inputs):
    request = request_for(tiny, prompt="a cat", seed=3, image=str(inputs["odd"]), width=64, height=72,
                          num_inference_steps=10, strength=0.5)
    result = run_one(tiny_provider, tiny, ctx, request)
    assert isinstance(result, GenerationResult), result
    image = Image.open(io.BytesIO(result.outputs[0].data))
    assert (image.size, image.mode) == ((64, 72), "RGB")
    assert result.actual["image"] == str(inputs["odd"]) and result.actual["strength"] == 0.5
    returned = result.returned
    assert returned["pipeline_class"] == "StableDiffusionImg2ImgPipeline"
    assert returned["strength"] == 0.5 and returned["denoising_steps"] == 5
    assert returned["image"] == str(inputs["odd"]) and returned["image_size"] == [75, 100]
    assert returned["image_sha256"] == hashlib.sha256(inputs["odd"].read_bytes()).hexdigest()
    # Progress counts the steps that run: int(steps × strength).
    assert ctx.progress_calls == [(request.generation_id, i, 5) for i in range(1, 6)]


def test_without_width_and_height_the_image_keeps_its_size_rounded_down_to_8(tiny_provider, tiny, ctx, request_for,
                                                                            inputs):
    factory = tiny_provider.factory(tiny)
    params = factory.validate({"prompt": "a cat", "image": str(inputs["odd"])})
    assert "width" not in params and "height" not in params and params["strength"] == 0.6
    result = run_one(tiny_provider, tiny, ctx, request_for(tiny, prompt="a cat", seed=1, image=str(inputs["odd"])))
    assert Image.open(io.BytesIO(result.outputs[0].data)).size == (72, 96)
    assert (result.actual["width"], result.actual["height"]) == (72, 96)  # the actual set says what ran
    only_width = run_one(tiny_provider, tiny, ctx, request_for(tiny, prompt="a cat", seed=1, width=64,
                                                               image=str(inputs["odd"])))
    assert Image.open(io.BytesIO(only_width.outputs[0].data)).size == (64, 80)  # aspect ratio kept


def test_low_strength_keeps_the_input_and_full_strength_replaces_it(tiny_provider, tiny, ctx, request_for, inputs):
    # The tiny model's VAE has random weights, so even strength → 0 does not give back the input's
    # pixels; what strength must still do is decide how much the input shows through. Two
    # opposite inputs give clearly different images at strength 0.05 and nearly the same at 1.
    def diff(strength: float) -> float:
        a, b = (run_one(tiny_provider, tiny, ctx, request_for(tiny, prompt="a cat", seed=5, image=str(inputs[k]),
                                                               strength=strength, num_inference_steps=20))
                for k in ("a", "b"))
        assert a.returned["denoising_steps"] == int(20 * strength)
        return float(np.abs(array(a) - array(b)).mean())

    low, high = diff(0.05), diff(1.0)
    assert low > 2, low
    assert high < low / 5, (low, high)


def test_text_and_image_to_image_share_the_loaded_modules(fresh_provider, ctx, request_for, inputs):
    model = fresh_provider.model("tiny")
    factory = fresh_provider.factory(model)
    text = factory.run([request_for(model, prompt="a cat", seed=1)], ctx)[0]
    image = factory.run([request_for(model, prompt="a cat", seed=1, image=str(inputs["a"]))], ctx)[0]
    again = factory.run([request_for(model, prompt="a cat", seed=1)], ctx)[0]
    assert all(isinstance(r, GenerationResult) for r in (text, image, again))
    assert [e.model_id for e in ctx.events if isinstance(e, ModelLoaded)] == ["diffusers:tiny"]
    assert again.outputs[0].data == text.outputs[0].data  # text-to-image is unchanged by the detour
    loaded = fresh_provider.pipeline(model)
    view = loaded.img2img()
    assert view is loaded.img2img()
    assert type(view).__name__ == "StableDiffusionImg2ImgPipeline"
    for name in ("unet", "vae", "text_encoder", "tokenizer"):
        assert getattr(view, name) is getattr(loaded.pipe, name), name


def test_the_image_to_image_view_keeps_the_pipeline_dtype(provider_home):
    # StableDiffusionImg2ImgPipeline.from_pipe(pipe) would cast the shared modules to float32.
    import torch

    from imagen_nb.providers.base import ProviderContext
    from imagen_nb.providers.diffusers import DiffusersProvider

    provider = DiffusersProvider(ProviderContext(home=provider_home, settings={"device": "cpu", "dtype": "bfloat16"}))
    provider.dtype_for = lambda model: provider.dtype  # tiny itself always loads in float32 (its colour codec)
    try:
        loaded = provider.pipeline(provider.model("tiny"))
        view = loaded.img2img()
        assert loaded.pipe.unet.dtype == torch.bfloat16 and view.unet.dtype == torch.bfloat16
        assert loaded.pipe.vae.dtype == torch.bfloat16
    finally:
        provider.close()


def test_cancelling_image_to_image_after_the_first_step_stops(tiny_provider, tiny, make_ctx, request_for, inputs):
    ctx = make_ctx(cancel_after=1)
    request = request_for(tiny, prompt="a cat", seed=1, image=str(inputs["a"]), num_inference_steps=40, strength=0.5)
    result = run_one(tiny_provider, tiny, ctx, request)
    assert isinstance(result, GenerationCancelled)
    assert "after step 1 of 20" in str(result)
    assert ctx.progress_calls == [(request.generation_id, 1, 20)]


def test_image_to_image_batches_apart_from_text_to_image_and_matches_single_runs(
        tiny_provider, tiny, ctx, request_for, inputs):
    factory = tiny_provider.factory(tiny)
    text = factory.validate({"prompt": "a cat", "seed": 1})
    image = factory.validate({"prompt": "a cat", "seed": 1, "image": str(inputs["a"])})
    assert "strength" not in text and "image" not in text
    assert factory.batch_key(text) != factory.batch_key(image)
    assert factory.batch_key(image) != factory.batch_key({**image, "strength": 0.7})
    requests = [request_for(tiny, prompt=p, seed=s, image=str(inputs["a"]), strength=0.5, num_inference_steps=8)
                for p, s in (("a cat", 1), ("a dog", 2), ("a fox", 3))]
    assert len({factory.batch_key(factory.validate(r.params)) for r in requests}) == 1
    batch = factory.run(requests, ctx)
    assert [r.returned["batch_size"] for r in batch] == [3, 3, 3]
    for request, together in zip(requests, batch):
        alone = run_one(tiny_provider, tiny, ctx, request)
        assert alone.returned["batch_size"] == 1
        assert np.abs(array(alone) - array(together)).max() <= 1  # batched matmuls differ by ~1e-6
    assert np.abs(array(batch[0]) - array(batch[1])).mean() > 1


def test_every_scheduler_runs_image_to_image(tiny_provider, tiny, ctx, request_for, inputs):
    from imagen_nb.providers.diffusers.schedulers import SCHEDULERS

    for name, (class_name, _) in SCHEDULERS.items():
        result = run_one(tiny_provider, tiny, ctx, request_for(tiny, prompt="a cat", seed=1, image=str(inputs["a"]),
                                                              num_inference_steps=4, strength=0.5, scheduler=name))
        assert isinstance(result, GenerationResult), (name, result)
        assert result.returned["scheduler_class"] == class_name


def test_several_images_per_image_to_image_generation(tiny_provider, tiny, ctx, request_for, inputs):
    result = run_one(tiny_provider, tiny, ctx, request_for(tiny, prompt="a cat", seed=1, image=str(inputs["a"]),
                                                          num_images_per_prompt=2))
    assert len(result.outputs) == 2 and np.abs(array(result, 0) - array(result, 1)).mean() > 1


def test_an_image_from_a_url(tiny_provider, tiny, ctx, request_for, inputs):
    body = inputs["a"].read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            if self.path != "/a.png":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/a.png"
        result = run_one(tiny_provider, tiny, ctx, request_for(tiny, prompt="a cat", seed=1, image=url))
        from_file = run_one(tiny_provider, tiny, ctx, request_for(tiny, prompt="a cat", seed=1, image=str(inputs["a"])))
        assert result.returned["image"] == url
        assert result.returned["image_sha256"] == hashlib.sha256(body).hexdigest()
        assert result.outputs[0].data == from_file.outputs[0].data
        missing = run_one(tiny_provider, tiny, ctx, request_for(tiny, prompt="a cat", image=url.replace("a.png", "b.png")))
        assert isinstance(missing, ProviderError) and "HTTP 404" in str(missing)
    finally:
        server.shutdown()
        server.server_close()


def test_mistakes_are_refused_before_anything_runs(tiny_provider, tiny, ctx, request_for, inputs, tmp_path):
    factory = tiny_provider.factory(tiny)
    cases = [
        ({"prompt": "a cat", "strength": 0.5}, "strength", "image-to-image only"),
        ({"prompt": "a cat", "image": str(tmp_path / "nope.png")}, "image", "no file at"),
        ({"prompt": "a cat", "image": str(inputs["a"]), "strength": 0.05}, "strength", "num_inference_steps to ≥ 20"),
        ({"prompt": "a cat", "image": str(inputs["a"]), "strength": 0}, "strength", "redraws nothing"),
        ({"prompt": "a cat", "image": str(inputs["a"]), "strength": 1.5}, "strength", "≤ 1"),
    ]
    for params, param, words in cases:
        with pytest.raises(ValidationError) as info:
            factory.validate(params)
        assert info.value.param == param and words in str(info.value), (params, info.value)
    # Across an order each combination of steps and strength is checked.
    rows = [{"prompt": "a cat", "image": str(inputs["a"]), "num_inference_steps": s, "strength": 0.2}
            for s in (10, 9, 8, 7, 6, 5, 5, 4)]
    with pytest.raises(ValidationError, match=r"in generation 8 of 8"):
        factory.validate_many(rows)
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("hello")
    result = run_one(tiny_provider, tiny, ctx, request_for(tiny, prompt="a cat", image=str(not_an_image)))
    assert isinstance(result, ProviderError) and "as an image" in str(result)
