"""Batch writes give the same rows whether they take the per-row or the Arrow path."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from imagen_nb.catalog import Catalog
from imagen_nb.catalog import orders as q_orders
from imagen_nb.catalog import products as q_products
from imagen_nb.catalog.rows import SMALL_BATCH
from imagen_nb.core.ids import new_id

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


@pytest.mark.parametrize("n", [1, SMALL_BATCH, SMALL_BATCH + 1, 50])
def test_start_finish_and_products_round_trip(tmp_path, n):
    catalog = Catalog(tmp_path)
    try:
        cur = catalog.cursor()
        order_id = new_id()
        gens = [{"id": new_id(), "order_id": order_id, "seq": i, "model_id": "m", "status": "pending",
                 "params": {"prompt": f"p{i}", "seed": i}} for i in range(2 * n)]
        q_orders.insert_order(cur, {"id": order_id, "project_id": None, "model_id": "m", "base_params": {},
                                    "rng_seed": 1, "status": "pending", "generation_count": 2 * n}, gens)
        first, second = gens[:n], gens[n:]
        q_orders.mark_generating(cur, [(g["id"], NOW, 111) for g in first])
        q_orders.finish_generations(cur, [
            {"id": g["id"], "status": "complete", "actual_params": {"seed": i}, "return_params": {"t": 0.5},
             "finished_at": NOW} for i, g in enumerate(first)])
        q_orders.finish_generations(cur, [  # started and finished in one write
            {"id": g["id"], "status": "failed", "error_type": "E", "error_message": "m", "traceback": "tb",
             "finished_at": NOW, "started_at": NOW, "pid": 222} for g in second])
        q_products.insert_products(cur, [
            {"id": new_id(), "generation_id": g["id"], "order_id": order_id, "project_id": None, "model_id": "m",
             "source": "generated", "kind": "image", "media_type": "image/png", "path": f"/p/{i}.png",
             "thumb_path": None, "size": 10, "width": 64, "height": 64, "sha256": "ab", "prompt": f"p{i}",
             "negative_prompt": "", "seed": i, "num_inference_steps": 4, "guidance_scale": 7.5,
             "params": {"prompt": f"p{i}"}, "created_at": NOW} for i, g in enumerate(first)])

        frame = q_orders.generations_of(cur, order_id)
        done, failed = frame[frame.seq < n], frame[frame.seq >= n]
        assert list(done.status) == ["complete"] * n and list(failed.status) == ["failed"] * n
        assert [a["seed"] for a in done.actual_params] == list(range(n))
        assert all(r == {"t": 0.5} for r in done.return_params)
        assert (frame.attempts == 1).all() and frame.started_at.notna().all()
        assert list(done.pid) == [111] * n and list(failed.pid) == [222] * n  # the process that ran each
        assert list(failed.error_type) == ["E"] * n and list(failed.traceback) == ["tb"] * n
        products = q_products.products_of_order(cur, order_id)
        assert [p["prompt"] for p in products] == [f"p{i}" for i in range(n)]
        assert products[0]["params"] == {"prompt": "p0"} and products[0]["guidance_scale"] == 7.5
    finally:
        catalog.close()
