"""Retrying failed and cancelled generations (``Studio.retry``), and the live views of orders
the Production panel reads: counts per status, queue positions, active generations."""

from __future__ import annotations

import pytest

import imagen_nb as inb
from imagen_nb.core.records import OrderQueued


@pytest.fixture
def studio(faulty_studio):
    """Every test here runs on a studio with the ``faulty:swatch`` model (down at first)."""
    return faulty_studio


def test_retry_runs_the_failed_generations_again_in_the_same_rows(studio, faulty):
    order = studio.order("faulty:swatch", prompt="[a,x1,b,x2]").wait(30)
    before = order.generations
    assert list(before.status) == ["complete", "failed", "complete", "failed"]
    queued = []
    with studio.subscribe(lambda e: queued.append(e) if isinstance(e, OrderQueued) else None):
        faulty.down = False
        assert studio.retry(order).wait(30).id == order.id
    after = order.generations
    assert list(after.id) == list(before.id)  # same rows, same order
    assert list(after.status) == ["complete"] * 4 and list(after.attempts) == [1, 2, 1, 2]
    assert after.error_message.isna().all() and after.traceback.isna().all()
    assert (order.status, len(order.products)) == ("fulfilled", 4)
    row = studio.orders().iloc[0]
    assert (row.complete_count, row.failed_count) == (4, 0)
    assert [e.generations for e in queued] == [2]
    # nothing left to retry: nothing is queued
    studio.retry(order)
    assert order.status == "fulfilled" and list(order.generations.attempts) == [1, 2, 1, 2]


def test_retry_chosen_generations_and_refuse_the_others(studio):
    order = studio.order("faulty:swatch", prompt="[x1,x2,a]").wait(30)
    failed = list(order.errors.id)
    studio.retry(order.id, [failed[1]]).wait(30)
    assert list(order.generations.attempts) == [1, 2, 1]
    assert order.status == "fulfilled" and list(order.generations.status) == ["failed", "failed", "complete"]
    complete = order.generations.id.iloc[2]
    with pytest.raises(inb.ValidationError, match="not a failed or cancelled generation"):
        studio.retry(order, [complete])
    with pytest.raises(LookupError, match="no order"):
        studio.retry("nope")


def test_retry_a_cancelled_order(studio):
    order = studio.order("instant:swatch", prompt="n [1..6]", num_inference_steps=20, step_seconds=0.02)
    order.cancel().wait(30)
    assert order.status == "cancelled"
    studio.retry(order).wait(30)
    assert order.status == "fulfilled" and list(order.generations.status) == ["complete"] * 6


def test_retry_while_the_order_still_runs(studio, faulty):
    order = studio.order("faulty:swatch", prompt="[x,a,b,c,d,e]", num_inference_steps=10, step_seconds=0.04)
    failed = None
    for _ in range(200):  # the 'x' generation fails at once; the others take a while
        studio.recorder.flush()
        errors = order.errors
        if len(errors):
            failed = errors.id.iloc[0]
            break
    assert failed is not None and not order.done
    faulty.down = False
    studio.retry(order, [failed])
    order.wait(30)
    assert order.status == "fulfilled" and list(order.generations.status) == ["complete"] * 6
    assert studio.orders().iloc[0].complete_count == 6


def test_live_counts_queue_positions_and_active_generations(studio):
    assert studio.views.active_generations() == 0
    order = studio.order("instant:swatch", prompt="n [1..10]", num_inference_steps=20, step_seconds=0.05)
    assert studio.views.active_generations() == 10
    gens = studio.views.generations(order, limit=10)
    positions = studio.views.queue_positions(gens.id)
    assert sorted(positions.values()) == list(range(len(positions))) and len(positions) >= 6
    assert [p for _, p in sorted((gens.seq[gens.id == g].iloc[0], p) for g, p in positions.items())] == \
        sorted(positions.values())  # queued in expansion order
    summary = studio.views.order_summaries(ids=[order.id]).iloc[0]
    assert summary.generation_count == 10 and summary.prompt == "n [1..10]"
    assert summary.pending + summary.generating == 10
    order.cancel().wait(30)
    assert studio.views.active_generations() == 0 and studio.views.queue_positions() == {}
    summary = studio.views.order_summaries(ids=[order.id]).iloc[0]
    assert (summary.cancelled, summary.pending, summary.status) == (10, 0, "cancelled")


def test_generation_pages_carry_their_product(studio):
    order = studio.order("instant:swatch", prompt="[a,b,c]").wait(30)
    page = studio.views.generations(order, offset=1, limit=1)
    assert list(page.seq) == [1] and page.product_id.iloc[0] == order.products[1].id
    assert studio.views.generations(order, status=["failed"]).empty
    newer = studio.order("instant:swatch", prompt="d").wait(30)
    assert list(studio.views.order_summaries(limit=1).id) == [newer.id]
    assert list(studio.views.order_summaries(before=newer.id).id) == [order.id]


def test_a_project_card_samples_its_best_rated_product(studio):
    order = studio.project("deck").order("instant:swatch", prompt="[a,b,c]").wait(30)
    listing = studio.projects().set_index("name")
    assert listing.loc["deck", "sample_product_id"] == max(p.id for p in order.products)  # the newest
    studio.rate(order.products[0], 4)
    assert studio.projects().set_index("name").loc["deck", "sample_product_id"] == order.products[0].id
