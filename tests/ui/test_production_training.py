"""The Production panel's training rows (issue 16): listed at init, live step/loss/sparkline
pushes while a run trains, cancel and resume from the panel. Tiny model, CPU."""

from __future__ import annotations

from imagen_nb.ui.production import ProductionController


def _runs(p):
    return [r for d in p.pushes("update") for r in d.get("training", [])]


def test_a_training_run_is_a_live_row_with_a_sparkline_and_can_be_cancelled_and_resumed(studio, page):
    order = studio.order("diffusers:tiny", prompt="a [red,blue] [cat,dog]", seed=3, num_inference_steps=2).wait()
    p = page(ProductionController(studio))
    assert p.call("init")["training"] == []
    run = studio.train_lora("panel", products=order.products, steps=200, checkpoint_every=0, seed=1, batch_size=2,
                            rank=4, resolution=64)
    rows = p.wait_for(lambda pg: [r for r in _runs(pg) if r["id"] == run.id and r["step"] >= 5], timeout=300)
    row = rows[-1]
    assert row["name"] == "panel" and row["status"] == "training" and row["total"] == 200
    assert row["images"] == 4 and row["base_model"] == "diffusers:tiny"
    assert isinstance(row["loss"], float) and row["lr"] == 1e-4 and row["images_per_second"] > 0 and row["eta"] > 0
    assert len(row["losses"]) >= 2 and row["losses"][-1] == row["loss"]  # the sparkline ends at the last step

    assert p.call("cancel_training", run_id=run.id) == {"cancelled": True}
    assert run.wait(timeout=300) and run.status == "cancelled"
    stopped = p.wait_for(lambda pg: [r for r in _runs(pg) if r["id"] == run.id and r["status"] == "cancelled"])[-1]
    assert stopped["step"] == run.step and stopped["losses"]
    assert p.call("init")["training"][0]["status"] == "cancelled"  # a fresh page sees it too

    resumed = p.call("resume_training", run_id=run.id)["run"]
    assert resumed["id"] == run.id and resumed["status"] in ("pending", "training")
    p.call("cancel_training", run_id=run.id)
    run.wait(timeout=300)
    assert p.error("resume_training", run_id="nope")["field"] == "run_id"
