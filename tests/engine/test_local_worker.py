"""The local worker on the real tiny diffusers model: warm pipelines, progress, cancellation."""

from __future__ import annotations

import threading

import pytest

from imagen_nb.core.records import GenerationProgress, ModelLoaded
from imagen_nb.store import pngmeta

pytestmark = pytest.mark.slow


def max_diff(a, b) -> int:
    import numpy as np

    return int(np.abs(np.asarray(a.image, dtype=np.int16) - np.asarray(b.image, dtype=np.int16)).max())


def test_tiny_order_end_to_end_and_the_pipeline_stays_warm(studio):
    loads, steps = [], []
    studio.subscribe(lambda e: loads.append(e) if isinstance(e, ModelLoaded) else
                     steps.append(e) if isinstance(e, GenerationProgress) else None)
    first = studio.order("diffusers:tiny", prompt="a [brown,black] [cat,dog]", seed="[1,2]",
                         num_inference_steps=4).wait(300)
    assert first.status == "fulfilled"
    products = first.products
    assert len(products) == 8
    assert [p.prompt for p in products[:4]] == ["a brown cat", "a brown cat", "a brown dog", "a brown dog"]
    assert all((p.width, p.height, p.media_type) == (64, 64, "image/png") for p in products)
    meta = pngmeta.read(products[0].path)
    assert meta["params"]["prompt"] == "a brown cat" and meta["params"]["seed"] == 1
    assert meta["model"] == "diffusers:tiny"
    assert len(steps) == 8 * 4 and {e.total for e in steps} == {4}
    returned = first.generations.return_params[0]
    assert returned["seed"] == 1 and returned["device"] == "cpu"

    second = studio.order("diffusers:tiny", prompt="a brown cat", seed=1, num_inference_steps=4).wait(300)
    assert len(loads) == 1, "the second order must reuse the loaded pipeline"
    # Same model, parameters and seed: the same pixels. The first order ran as batches and the
    # second alone; batched matmuls differ by ~1e-6, so at most 1 on uint8.
    assert max_diff(second.products[0], products[0]) <= 1
    assert max_diff(products[2], products[0]) > 10
    assert first.generations.return_params[0]["batch_size"] > 1
    assert second.generations.return_params[0]["batch_size"] == 1
    gallery = studio.sql("select count(*) as n from gallery where model = 'diffusers:tiny' and width = 64")
    assert gallery.n[0] == 9


def test_cancel_stops_a_running_local_generation_at_the_next_step(studio):
    first_step = threading.Event()
    steps = []

    def on_event(e):
        if isinstance(e, GenerationProgress):
            steps.append(e)
            first_step.set()

    studio.subscribe(on_event)
    order = studio.order("diffusers:tiny", prompt="long", seed="[1,2,3]", num_inference_steps=150)
    assert first_step.wait(300)
    order.cancel().wait(60)
    assert order.status == "cancelled"
    assert list(order.generations.status) == ["cancelled"] * 3
    assert order.products == []
    running = steps[0].generation_id
    assert max(e.step for e in steps if e.generation_id == running) < 150


def test_batched_generations_match_the_same_generation_run_alone(home):
    import imagen_nb as inb

    with inb.Studio(providers={"diffusers": {"batch": False}}) as alone:
        single = alone.order("diffusers:tiny", prompt="[a red fox,a blue car]", seed="[7,8]",
                             num_inference_steps=4).wait(300)
        single_images = single.products
        assert {r["batch_size"] for r in single.generations.return_params} == {1}
    with inb.Studio() as together:
        batch = together.order("diffusers:tiny", prompt="[a red fox,a blue car]", seed="[7,8]",
                               num_inference_steps=4).wait(300)
        assert {r["batch_size"] for r in batch.generations.return_params} == {4}
        assert [p.prompt for p in batch.products] == [p.prompt for p in single_images]
        for a, b in zip(batch.products, single_images):
            assert a.seed == b.seed and max_diff(a, b) <= 1
