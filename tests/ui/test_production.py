"""The Production panel's messages: orders and generations, batched live updates, cancel, retry."""

from __future__ import annotations

import time

from imagen_nb.ui.production import ProductionController


def _updates(p, key):
    return [item for d in p.pushes("update") for item in d.get(key, [])]


def _order_update(p, order_id, pred):
    return p.wait_for(lambda pg: [o for o in _updates(pg, "orders") if o["id"] == order_id and pred(o)])


def test_init_lists_orders_newest_first_with_counts_and_pages(studio, page):
    studio.project("cats")
    first = studio.order("instant:swatch", project="cats", prompt="cat [1..3]").wait(30)
    second = studio.order("instant:swatch", prompt="dog", seed=[1, 2]).wait(30)
    p = page(ProductionController(studio))
    result = p.call("init")
    assert [o["id"] for o in result["orders"]] == [second.id, first.id]
    older = result["orders"][1]
    assert older["project"] == "cats" and older["model"] == "instant:swatch" and older["prompt"] == "cat [1..3]"
    assert older["counts"] == {"queued": 0, "running": 0, "complete": 3, "failed": 0, "cancelled": 0}
    assert older["status"] == "fulfilled" and older["progress"] == 1.0 and older["finished"] >= older["created"]
    assert result["active"] == 0 and p.pushes("activity") == [{"active": 0}]
    assert result["cluster"] is None  # threads: no "Dask: N workers" line
    # load more: the page after the newest
    page1 = p.call("orders", limit=1)
    assert [o["id"] for o in page1["orders"]] == [second.id] and page1["has_more"]
    page2 = p.call("orders", limit=1, before=second.id)
    assert [o["id"] for o in page2["orders"]] == [first.id] and not page2["has_more"]
    # one order by id (navigate to an order not loaded yet)
    assert p.call("orders", ids=[first.id])["orders"][0]["id"] == first.id
    assert p.error("orders", ids=["nope"])["field"] == "order_id"


def test_generations_of_an_order_with_labels_products_and_thumbnails(studio, page):
    order = studio.order("instant:swatch", prompt="a [red,blue] car", seed=7).wait(30)
    p = page(ProductionController(studio))
    gens = p.call("generations", order_id=order.id)
    assert [g["label"] for g in gens["items"]] == ["a red car", "a blue car"]
    assert all(g["status"] == "complete" and g["duration"] >= 0 and g["product_id"] for g in gens["items"])
    thumbs, bufs = p.call_with_buffers("thumbs", product_ids=[g["product_id"] for g in gens["items"]])
    product = studio.product(gens["items"][0]["product_id"])
    assert bufs[thumbs["items"][product.id]["buf"]] == product.thumb_path.read_bytes()
    paged = p.call("generations", order_id=order.id, offset=1, limit=1)
    assert [g["seq"] for g in paged["items"]] == [1] and not paged["has_more"]
    assert p.call("generations", order_id=order.id, status="failed")["items"] == []
    assert p.error("generations", order_id=order.id, status="exploded")["field"] == "status"


def test_progress_of_a_running_order_arrives_as_batched_updates(studio, page):
    p = page(ProductionController(studio))
    p.call("init")
    order = studio.order("instant:swatch", prompt="p [1..12]", num_inference_steps=4, step_seconds=0.05)
    p.call("generations", order_id=order.id)  # expanded: its rows are in the window
    order.wait(30)
    new = _order_update(p, order.id, lambda o: o["status"] == "fulfilled")
    assert new[-1]["counts"]["complete"] == 12 and new[-1]["progress"] == 1.0
    gens = _updates(p, "gens")
    steps = [(g["step"], g["total"]) for g in gens if g.get("step")]
    assert steps and all(total == 4 and 1 <= step <= 4 for step, total in steps)
    running = [o for o in _updates(p, "orders") if o["counts"]["running"]]
    assert running and all(0 <= o["progress"] < 1 for o in running) and any(o["progress"] > 0 for o in running)
    finished = {g["id"]: g for g in gens if g.get("status") == "complete"}
    assert len(finished) == 12 and all(g["product_id"] and g["duration"] > 0 for g in finished.values())
    # the Production tab's badge: work started, then stopped
    activity = [a["active"] for a in p.pushes("activity")]
    assert activity[0] == 0 and max(activity) > 0 and activity[-1] == 0


def test_a_large_order_sends_at_most_about_ten_updates_a_second(studio, page):
    controller = ProductionController(studio)
    p = page(controller)
    p.call("init")
    start = time.monotonic()
    # about a second of work on four workers, with a progress event per step
    order = studio.order("instant:swatch", prompt="n [1..300]", num_inference_steps=2, step_seconds=0.006)
    p.call("generations", order_id=order.id)
    order.wait(60)
    _order_update(p, order.id, lambda o: o["status"] == "fulfilled")
    elapsed = time.monotonic() - start
    updates = len(p.pushes("update"))
    assert 2 <= updates <= 10 * elapsed + 3, f"{updates} updates in {elapsed:.2f} s"
    assert controller.throttle.calls <= 10 * elapsed + 3
    assert len(p.pushes("activity")) <= 1 * elapsed + 4
    # only the window's rows travel (100 of 300), each once it finished
    rows = {g["id"] for g in _updates(p, "gens")}
    assert 0 < len(rows) <= 100


def test_cancel_an_order(studio, page):
    p = page(ProductionController(studio))
    p.call("init")
    order = studio.order("instant:swatch", prompt="slow [1..12]", num_inference_steps=20, step_seconds=0.05)
    _order_update(p, order.id, lambda o: o["counts"]["running"] == 4)
    assert p.call("cancel", order_id=order.id)["dropped"] == 8  # four run, eight were queued
    done = _order_update(p, order.id, lambda o: o["status"] == "cancelled")[-1]
    assert done["counts"]["cancelled"] == 12 and done["counts"]["queued"] == done["counts"]["running"] == 0
    assert order.status == "cancelled"


def test_cancel_one_generation_queued_or_running(studio, page):
    p = page(ProductionController(studio))
    p.call("init")
    order = studio.order("instant:swatch", prompt="slow [1..6]", num_inference_steps=20, step_seconds=0.05)
    rows = p.call("generations", order_id=order.id)["items"]
    queued, running = rows[-1], rows[0]
    p.wait_for(lambda pg: any(g["id"] == running["id"] and g.get("status") == "running"
                              for g in _updates(pg, "gens")))
    assert queued["status"] == "queued" and queued["position"] is not None
    assert p.call("cancel", generation_id=queued["id"])["dropped"] == 1
    assert p.call("cancel", generation_id=running["id"])["dropped"] == 0  # stops at its next step
    order.wait(30)
    cancelled = p.wait_for(lambda pg: {g["id"] for g in _updates(pg, "gens") if g.get("status") == "cancelled"}
                           >= {queued["id"], running["id"]})
    assert cancelled
    final = _order_update(p, order.id, lambda o: o["status"] == "fulfilled")[-1]
    assert (final["counts"]["complete"], final["counts"]["cancelled"]) == (4, 2)
    assert p.error("cancel")["field"] == "order_id"


def test_failed_generations_show_their_error_and_retry_runs_them_again(faulty_studio, faulty, page):
    studio = faulty_studio
    order = studio.order("faulty:swatch", prompt="[a,x1,b,x2]").wait(30)
    p = page(ProductionController(studio))
    listed = p.call("init")["orders"][0]
    assert listed["counts"]["failed"] == 2 and listed["status"] == "fulfilled"
    failed = p.call("generations", order_id=order.id, status="failed")["items"]
    assert [g["label"] for g in failed] == ["x1", "x2"]
    assert failed[0]["error_type"] == "RuntimeError" and "provider down" in failed[0]["error_message"]
    detail = p.call("generation", generation_id=failed[0]["id"])
    assert detail["params"] == {"prompt": "x1"} and "RuntimeError: provider down" in detail["traceback"]
    assert detail["order_id"] == order.id and detail["thumb"] is None

    # a partial retry of one generation, while the provider is still down
    retried = p.call("retry", order_id=order.id, generation_ids=[failed[0]["id"]])
    assert retried["retried"] == 1
    order.wait(30)
    assert list(order.generations.attempts) == [1, 2, 1, 1]

    faulty.down = False
    p.call("generations", order_id=order.id)  # the whole order expanded
    assert p.call("retry", order_id=order.id)["retried"] == 2
    order.wait(30)
    _order_update(p, order.id, lambda o: o["counts"]["complete"] == 4 and o["status"] == "fulfilled")
    again = {g["id"]: g for g in _updates(p, "gens") if g.get("status") == "complete"}
    assert {g["id"] for g in failed} <= set(again) and all(again[g["id"]]["product_id"] for g in failed)
    assert len(order.products) == 4 and order.status == "fulfilled"
    assert p.error("retry", order_id=order.id)["field"] == "order_id"  # nothing left to retry
    complete = p.call("generations", order_id=order.id)["items"][0]["id"]
    assert p.error("retry", order_id=order.id, generation_ids=[complete])["field"] == "generations"
    thumbs = p.call("generation", generation_id=failed[0]["id"])
    assert thumbs["status"] == "complete" and thumbs["error_message"] is None and thumbs["thumb"] == 0


def test_a_paused_queue_is_said_on_the_page_until_it_resumes(studio, page, monkeypatch):
    """A full disk pauses the queue (engine/space.py): the page shows the plain-words notice, once."""
    import errno
    import warnings

    free = {"bytes": 0}
    monkeypatch.setattr(studio.space, "free", lambda: free["bytes"])
    studio.space.interval = 0
    p = page(ProductionController(studio))
    assert p.call("init")["paused"] is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        studio.space.pause(OSError(errno.ENOSPC, "No space left on device"), "a product")
    notice = p.wait_for(lambda pg: pg.pushes("notice"))
    assert "is full" in notice[-1]["paused"] and "paused" in notice[-1]["paused"]
    assert "is full" in p.call("init")["paused"]  # a page opened meanwhile shows it too
    free["bytes"] = 10 * 2**30
    assert studio.space.poll()
    p.wait_for(lambda pg: pg.pushes("notice")[-1]["paused"] is None)
    assert len(p.pushes("notice")) == 2


def test_widget_show_order_opens_it_in_production(studio):
    import pytest

    import imagen_nb as inb

    order = studio.order("instant:swatch", prompt="a kite").wait(30)
    widget = inb.StudioWidget(studio)
    sent = []
    widget.controllers["studio"].transport = type("T", (), {"send": lambda self, c, b=(): sent.append(c),
                                                            "schedule": lambda self, fn: fn()})()
    try:
        widget.show(order=order)
        widget.show(product=order.products[0].id)
        assert [(m["data"]["tab"], m["data"]["payload"]) for m in sent] == [
            ("production", {"order_id": order.id}), ("order", {"product_id": order.products[0].id})]
        with pytest.raises(TypeError, match="needs a tab"):
            widget.show()
    finally:
        widget.close()


def test_a_refinement_is_one_row_with_its_rounds_live_and_cancellable(studio, page):
    p = page(ProductionController(studio))
    p.call("init")
    assert p.call("refinements") == {"refinements": []}
    ref = studio.refine(["a red fox", "a calm sea"], "instant:swatch", iterations=2, scorer="clip:tiny-clip",
                        judge_params={"max_new_tokens": 4}, rewriter_params={"max_new_tokens": 4}).wait(300)
    (row,) = p.call("refinements")["refinements"]
    assert row["id"] == ref.id and row["status"] == "done" and row["rounds_done"] == row["rounds_max"] == 4
    assert (row["model"], row["judge"], row["rewriter"]) == ("instant:swatch", "transformers:tiny-judge",
                                                              "transformers:tiny-rewriter")
    assert [i["prompt"] for i in row["items"]] == ["a red fox", "a calm sea"]
    for item in row["items"]:
        assert [r["round"] for r in item["rounds"]] == [1, 2] and item["status"] == "done"
        assert item["rounds"][1]["prompt"] == item["rounds"][0]["next_prompt"]
        assert item["best_score"] == max(r["score"] for r in item["rounds"])
    # moving refinements arrive as pushes; a running one can be cancelled from the row
    slow = studio.refine("a kite", "instant:swatch", iterations=3, scorer="clip:tiny-clip",
                         num_inference_steps=200, step_seconds=0.05, judge_params={"max_new_tokens": 4})
    p.wait_for(lambda pg: [r for d in pg.pushes("refinements") for r in d["refinements"] if r["id"] == slow.id])
    cancelled = p.call("cancel_refinement", refinement_id=slow.id)["refinement"]
    assert cancelled["status"] == "cancelled" and cancelled["items"][0]["status"] == "cancelled"
    assert p.error("cancel_refinement", refinement_id="nope")["field"] == "refinement_id"
