"""Orders run in the background: statuses, events, failures, cancellation, validation first."""

from __future__ import annotations

import threading
import time

import pytest

import imagen_nb as inb
from imagen_nb.core.records import (
    GenerationFinished, GenerationProgress, GenerationStarted, ProductReady,
)


def test_order_returns_at_once_and_runs_in_the_background(studio):
    t0 = time.perf_counter()
    order = studio.order("instant:swatch", prompt="slow", seed="[1,2,3]", num_inference_steps=3,
                         step_seconds=0.1)
    assert time.perf_counter() - t0 < 0.5  # 0.9 s of work queued, not run
    assert order.status in ("pending", "processing", "underway")
    order.wait(30)
    assert order.status == "fulfilled"
    assert [p.seed for p in order.products] == [1, 2, 3]
    g = order.generations
    assert list(g.status) == ["complete"] * 3
    assert [a["seed"] for a in g.actual_params] == [1, 2, 3]
    assert all(a["width"] == 64 for a in g.actual_params)  # defaults filled in the actual set


def test_products_are_files_with_rows(studio):
    order = studio.order("instant:swatch", prompt="a [red,blue] fox", seed=7).wait(30)
    products = order.products
    assert [p.prompt for p in products] == ["a red fox", "a blue fox"]
    for p in products:
        assert p.path.exists() and p.path.stat().st_size == p.size
        assert p.path.parent.parent.parent == studio.home / "products"
        assert (p.width, p.height) == (64, 64)
        assert p.image.size == (64, 64)
        assert p.thumb_path is not None and p.thumb_path.exists()


def test_events_in_order_and_products_committed_before_product_ready(studio):
    events = []
    seen_in_catalog = []

    def on_event(e):
        events.append(e)
        if isinstance(e, ProductReady):
            seen_in_catalog.append(e.product_id)

    studio.subscribe(on_event)
    order = studio.order("instant:swatch", prompt="x", seed="[1,2]", num_inference_steps=2).wait(30)
    mine = [e for e in events if getattr(e, "order_id", None) == order.id]
    kinds = [type(e).__name__ for e in mine]
    assert kinds[0] == "OrderQueued" and kinds[-1] == "OrderFinished"
    for g in order.generations.id:
        g_kinds = [type(e) for e in mine if getattr(e, "generation_id", None) == g]
        assert g_kinds == [GenerationStarted, GenerationProgress, GenerationProgress, ProductReady,
                           GenerationFinished]
    steps = [(e.step, e.total) for e in mine if isinstance(e, GenerationProgress)]
    assert steps == [(1, 2), (2, 2), (1, 2), (2, 2)]
    assert {p.id for p in studio.products(seen_in_catalog)} == set(seen_in_catalog)
    assert len(seen_in_catalog) == 2


def test_progress_bar_in_a_plain_script(studio, capsys):
    order = studio.order("instant:swatch", prompt="bar", seed="[1..4]")
    assert order.progress(timeout=30) is order
    assert order.status == "fulfilled"
    assert "4/4" in capsys.readouterr().err


def test_statuses_move_pending_to_underway_to_fulfilled(studio):
    seen = []
    order = studio.order("instant:swatch", prompt="s", seed="[1,2,3]", num_inference_steps=2,
                         step_seconds=0.1)
    deadline = time.time() + 30
    while not order.done and time.time() < deadline:
        seen.append(order.status)
        time.sleep(0.02)
    seen.append(order.status)
    assert seen[-1] == "fulfilled"
    assert "underway" in seen
    allowed = ["pending", "processing", "underway", "fulfilled"]
    assert [allowed.index(s) for s in seen] == sorted(allowed.index(s) for s in seen)


def test_a_failing_generation_is_recorded_and_the_worker_goes_on(studio, flaky):
    studio.close()
    studio = inb.Studio()
    try:
        order = studio.order(flaky, prompt="[fine,boom,also fine]").wait(30)
        assert order.status == "fulfilled"  # partly failed orders are fulfilled, failures counted
        row = studio.orders().iloc[0]
        assert (row.complete_count, row.failed_count) == (2, 1)
        err = order.errors.iloc[0]
        assert err.error_type == "RuntimeError"
        assert "exploded on 'boom'" in err.error_message
        tb = order.generations.set_index("seq").traceback[1]
        assert "Traceback" in tb and "in _one" in tb
        assert [p.prompt for p in order.products] == ["fine", "also fine"]
        every = studio.order(flaky, prompt="boom [1,2]").wait(30)
        assert every.status == "failed"
        assert studio.order(flaky, prompt="after the failures").wait(30).status == "fulfilled"
    finally:
        studio.close()


def test_cancel_drops_queued_generations_at_once_and_stops_the_running_one(studio):
    started = threading.Event()
    progress = []

    def on_event(e):
        if isinstance(e, GenerationProgress):
            progress.append(e)
            started.set()

    studio.subscribe(on_event)
    order = studio.order("instant:swatch", prompt="long", seed="[1..20]", num_inference_steps=50,
                         step_seconds=0.05)
    assert started.wait(30)
    t0 = time.perf_counter()
    order.cancel()
    order.wait(10)
    assert time.perf_counter() - t0 < 2  # not 20 × 2.5 s
    assert order.status == "cancelled"
    statuses = list(order.generations.status)
    assert statuses.count("cancelled") == 20
    assert order.products == []
    first = order.generations.id[0]
    steps = [e.step for e in progress if e.generation_id == first]
    assert max(steps) < 50  # stopped at a step, not run to the end


def test_cancel_one_generation(studio):
    order = studio.order("instant:swatch", prompt="p", seed="[1..5]", num_inference_steps=5, step_seconds=0.05)
    last = order.generations.id[4]
    assert studio.cancel(last) == 1
    order.wait(30)
    assert list(order.generations.status) == ["complete"] * 4 + ["cancelled"]
    assert order.status == "fulfilled"


def test_bad_input_raises_before_anything_is_queued(studio):
    with pytest.raises(inb.ValidationError, match="multiple of 8"):
        studio.order("instant:swatch", prompt="p", width=65)
    with pytest.raises(inb.ValidationError, match="generation 2 of 2"):
        studio.order("instant:swatch", prompt="p", width="[64,65]")
    with pytest.raises(inb.ValidationError, match="num_inference_steps"):
        studio.order("instant:swatch", prompt="p", num_inference_steps=0)
    with pytest.raises(inb.ValidationError, match="Did you mean 'guidance_scale'"):
        studio.order("instant:swatch", prompt="p", guidance_scal=3)
    with pytest.raises(inb.SmartParameterError, match="prompt"):
        studio.order("instant:swatch", prompt="a [b,c|d]")
    with pytest.raises(inb.UnknownModelError, match="Did you mean 'instant'"):
        studio.order("instnt:swatch", prompt="p")
    with pytest.raises(inb.UnknownModelError, match="'swatch'"):
        studio.order("instant:swatc", prompt="p")
    with pytest.raises(inb.OrderTooLarge, match="2,000"):
        studio.order("instant:swatch", prompt="p", seed="[1..2000]")
    for exc in (inb.ValidationError, inb.SmartParameterError, inb.UnknownModelError, inb.OrderTooLarge):
        assert issubclass(exc, ValueError)
    assert studio.sql("select count(*) as n from orders").n[0] == 0
    assert studio.sql("select count(*) as n from generations").n[0] == 0


def test_limit_per_order_and_per_studio(home):
    with inb.Studio(limit=3) as studio:
        with pytest.raises(inb.OrderTooLarge):
            studio.order("instant:swatch", prompt="p", seed="[1..4]")
        assert len(studio.order("instant:swatch", prompt="p", seed="[1..4]", limit=4).wait(30).products) == 4


def test_random_picks_are_reproducible_from_the_stored_rng_seed(studio):
    a = studio.order("instant:swatch", prompt="[red|green|blue] fox", seed="[1..5]").wait(30)
    b = studio.order("instant:swatch", prompt="[red|green|blue] fox", seed="[1..5]", rng_seed=a.rng_seed).wait(30)
    assert list(a.generations.params) == list(b.generations.params)
    assert a.base_params == {"prompt": "[red|green|blue] fox", "seed": "[1..5]"}


def test_smart_tokens_persist_and_expand(studio):
    studio.tokens["animal"] = ["cat", "dog", "fox"]
    order = studio.order("instant:swatch", prompt="a [animal]").wait(30)
    assert [p.prompt for p in order.products] == ["a cat", "a dog", "a fox"]
    studio.close()
    with inb.Studio() as again:
        assert again.tokens["animal"] == ["cat", "dog", "fox"]
        assert dict(again.tokens) == {"animal": ["cat", "dog", "fox"]}
        del again.tokens["animal"]
        with pytest.raises(inb.SmartParameterError, match="animal"):
            again.order("instant:swatch", prompt="a [animal]")


def test_multiple_images_per_generation(studio):
    order = studio.order("instant:swatch", prompt="many", num_images_per_prompt=3).wait(30)
    assert len(order.products) == 3
    assert len({p.sha256 for p in order.products}) == 3


def test_validation_of_a_large_order_names_the_generation_and_coerces_values(studio):
    # 3 widths x 4 seeds: each distinct value checked once, errors still point at a generation.
    with pytest.raises(inb.ValidationError, match=r"width must be a multiple of 8.*generation 9 of 12"):
        studio.order("instant:swatch", prompt="p", width="[64,72,65]", seed="[1..4]")
    sets = studio.expand("instant:swatch", prompt="p", width="[64,72]", seed="[1..4]")
    assert len(sets) == 8
    order = studio.order("instant:swatch", prompt="p", width="[64,72]", seed="[1..4]",
                         guidance_scale=7).wait(30)
    actual = list(order.generations.actual_params)
    assert [(a["width"], a["seed"]) for a in actual] == [(w, s) for w in (64, 72) for s in (1, 2, 3, 4)]
    assert all(a["height"] == 64 and a["num_inference_steps"] == 1 for a in actual)  # defaults filled
    assert {p.width for p in order.products} == {64, 72}
    gens = order.generations
    assert gens.started_at.notna().all() and (gens.attempts == 1).all()


@pytest.mark.parametrize("concurrency", [1, 3])
def test_concurrency_per_provider_is_a_setting(home, concurrency):
    running, peak = set(), []
    lock = threading.Lock()

    def on_event(e):
        with lock:
            if isinstance(e, GenerationStarted):
                running.add(e.generation_id)
                peak.append(len(running))
            elif isinstance(e, GenerationProgress) and e.step == e.total:
                running.discard(e.generation_id)  # its last step: the worker is free again

    with inb.Studio(providers={"instant": {"concurrency": concurrency}}) as studio:
        studio.subscribe(on_event)
        studio.order("instant:swatch", prompt="c", seed="[1..6]", num_inference_steps=2,
                     step_seconds=0.1).wait(60)
    assert max(peak) == concurrency



def test_api_calls_published_by_a_provider_land_in_the_catalog(home, calling):
    with inb.Studio() as studio:
        order = studio.order(calling, prompt="[a,b]").wait(30)
        calls = studio.sql("select generation_id, order_id, provider, method, endpoint, status_code, "
                           "duration_ms, request_id, attempt from api_calls order by endpoint, generation_id")
        gens = set(order.generations.id)
    assert len(calls) == 4 and set(calls.generation_id) == gens and set(calls.order_id) == {order.id}
    assert list(calls.endpoint.unique()) == ["/queue/result", "/queue/submit"]
    assert set(calls.status_code) == {200, 201} and (calls.duration_ms >= 0).all()
    assert set(calls.request_id) == {f"req-{g}" for g in gens}
