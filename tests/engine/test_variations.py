"""Image-to-image orders and variations through the Studio, on the real tiny diffusers model."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from imagen_nb.core.errors import ValidationError
from imagen_nb.core.records import ModelLoaded

pytestmark = pytest.mark.slow


def test_an_order_can_start_from_a_product_and_the_model_loads_once(studio):
    loads = []
    studio.subscribe(lambda e: loads.append(e) if isinstance(e, ModelLoaded) else None)
    source = studio.order("diffusers:tiny", prompt="a red fox", seed=1).wait(300).products[0]
    order = studio.order("diffusers:tiny", prompt="a blue fox", seed="[2,3]", image=source.id, strength=0.5,
                         width=64, height=96, num_inference_steps=8).wait(300)
    assert order.status == "fulfilled", order.errors
    assert len(loads) == 1, "image-to-image must reuse the loaded text-to-image modules"
    products = order.products
    assert [(p.width, p.height) for p in products] == [(64, 96), (64, 96)]
    gens = order.generations
    assert list(gens.params.map(lambda p: p["image"])) == [source.id, source.id]  # what was asked: the id
    returned = gens.return_params[0]
    assert returned["image"] == str(source.path) and returned["image_sha256"] == source.sha256
    assert returned["strength"] == 0.5 and returned["denoising_steps"] == 4
    assert returned["pipeline_class"] == "StableDiffusionImg2ImgPipeline" and returned["batch_size"] == 2
    text_again = studio.order("diffusers:tiny", prompt="a red fox", seed=1).wait(300).products[0]
    assert len(loads) == 1
    assert np.array_equal(np.asarray(text_again.image), np.asarray(source.image))


def test_vary_makes_variations_with_the_products_parameters_and_new_seeds(studio):
    source = studio.order("diffusers:tiny", prompt=r"a \[red\] fox", seed=11, num_inference_steps=6,
                          guidance_scale=5, project="foxes").wait(300).products[0]
    assert source.prompt == "a [red] fox"
    order = source.vary(n=3, strength=0.5).wait(300)
    assert order.status == "fulfilled", order.errors
    assert order.model == "diffusers:tiny"
    products = order.products
    assert len(products) == 3
    seeds = [p.seed for p in products]
    assert len(set(seeds)) == 3 and source.seed not in seeds
    assert order.base_params["seed"] == seeds  # drawn once, recorded as a list group
    assert {p.prompt for p in products} == {"a [red] fox"}  # brackets copied as text, not as syntax
    assert all(p.params["num_inference_steps"] == 6 and p.params["guidance_scale"] == 5 for p in products)
    assert all((p.width, p.height) == (source.width, source.height) for p in products)
    assert all(p.project_id == source.project_id for p in products)
    gens = order.generations
    assert {g["image"] for g in gens.params} == {source.id}
    assert {g["strength"] for g in gens.params} == {0.5}
    assert {r["image_sha256"] for r in gens.return_params} == {source.sha256}
    # The three variations differ from each other: each has its own seed.
    pixels = [np.asarray(p.image, dtype=np.int16) for p in products]
    assert np.abs(pixels[0] - pixels[1]).mean() > 1

    # Overrides replace the product's parameters; variations of a variation start from it.
    again = products[0].vary(n=2, strength=0.8, prompt="a [grey,white] fox", num_inference_steps=5).wait(300)
    assert again.status == "fulfilled", again.errors
    # SmartParameters in overrides combine with the seeds: 2 prompts × 2 seeds.
    assert [p.prompt for p in again.products] == ["a grey fox"] * 2 + ["a white fox"] * 2
    assert {g["image"] for g in again.generations.params} == {products[0].id}


def test_vary_refuses_a_model_that_takes_no_image(studio):
    swatch = studio.order("instant:swatch", prompt="teal").wait(60).products[0]
    assert not studio.model("instant:swatch").supports_image_to_image
    assert studio.model("diffusers:tiny").supports_image_to_image
    with pytest.raises(ValidationError) as info:
        swatch.vary(n=2)
    message = str(info.value)
    assert info.value.param == "model" and "instant:swatch" in message and "image" in message
    assert "model='diffusers:tiny'" in message
    with pytest.raises(ValidationError, match="seed"):
        swatch.vary(n=2, model="diffusers:tiny", seed=[1, 2])
    with pytest.raises(ValidationError, match="integer ≥ 1"):
        swatch.vary(n=0, model="diffusers:tiny")
    # The swatch can still be varied by a model that does take an image.
    order = swatch.vary(n=2, model="diffusers:tiny", num_inference_steps=4).wait(300)
    assert order.status == "fulfilled", order.errors
    assert [p.prompt for p in order.products] == ["teal", "teal"]
    assert all("step_seconds" not in p.params for p in order.products)  # swatch-only parameters stay behind


def test_an_imported_product_needs_a_model_to_vary(studio, tmp_path):
    path = tmp_path / "photo.png"
    Image.new("RGB", (80, 60), (200, 120, 40)).save(path)
    (imported,) = studio.import_products(path)
    assert imported.model_id is None
    with pytest.raises(ValidationError, match=r"model='diffusers:tiny'"):
        imported.vary()
    order = imported.vary(n=2, model="diffusers:tiny", prompt="an orange wall").wait(300)
    assert order.status == "fulfilled", order.errors
    assert [(p.width, p.height) for p in order.products] == [(80, 56), (80, 56)]  # its size, rounded down to 8
