"""A training run's page from its Production row (issue 16) through the controller: the loss
curve (thinned for a long run), the samples by step with thumbnails, and the checkpoints named as
the Order panel's LoRA field takes them (``<name>/step-000004``). Tiny model, CPU."""

from __future__ import annotations

from imagen_nb.ui.production import ProductionController
from imagen_nb.ui.production_run import thin


def test_the_run_page_has_its_curve_samples_and_checkpoints(studio, page):
    order = studio.order("diffusers:tiny", prompt="a [red,blue] cat", seed=3, num_inference_steps=2).wait()
    run = studio.train_lora("page", products=order.products, steps=8, checkpoint_every=4, sample_every=4,
                            sample_prompts=["a cat"], seed=1, batch_size=2, rank=4, resolution=64)
    assert run.wait(timeout=600) and run.status == "completed", run.status
    p = page(ProductionController(studio))
    result, buffers = p.call_with_buffers("training_page", run_id=run.id)
    assert result["run"]["name"] == "page" and result["run"]["status"] == "completed"
    assert [c["step"] for c in result["curve"]] == list(range(1, 9)) and result["steps"] == 8
    assert all(isinstance(c["loss"], float) for c in result["curve"])
    assert [c["step"] for c in result["checkpoints"]] == [4, 8]
    assert [c["lora"] for c in result["checkpoints"]] == ["page/step-000004", "page"]  # the last: the LoRA itself
    assert result["checkpoints"][-1]["final"] is True
    assert "page/step-000004" in studio.loras("diffusers:tiny")       # what "use this checkpoint" fills
    steps = [s["step"] for s in result["samples"]]
    assert steps == sorted(steps) and set(steps) >= {4, 8}
    assert all(buffers[s["thumb"]] for s in result["samples"])
    assert result["config"]["rank"] == 4
    assert p.error("training_page", run_id="nope")["field"] == "run_id"


def test_a_long_curve_is_thinned_evenly_keeping_both_ends():
    rows = [{"step": i} for i in range(1, 10_001)]
    out = thin(rows, 600)
    assert len(out) == 600 and out[0]["step"] == 1 and out[-1]["step"] == 10_000
    assert thin(rows[:10], 600) == rows[:10]
