"""The Order panel's Refine option (issue 15) in headless Chromium (the Panel app over the test's
studio): open it beside Order, a bad option is shown at its field and nothing starts, a good one
starts a refinement at once, and "Production →" shows its refinement row."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_refine_from_the_order_panel_and_find_it_in_production(studio, served, tab, open_studio):
    order = open_studio(tab, served, "order")
    order.locator(".inb-order-count").wait_for(timeout=30_000)   # the default model's form and preview
    order.locator("[data-field=prompt] textarea").fill("a lighthouse at dusk")
    order.get_by_role("button", name="Refine…").click()
    card = order.locator(".inb-order-refine")
    judge = card.locator("[data-field=refine_judge] select")
    judge.wait_for(timeout=30_000)
    assert judge.input_value() == "transformers:tiny-judge"       # the defaults studio.refine uses
    assert "transformers:tiny-rewriter" in card.locator("[data-field=refine_rewriter] select").inner_text()
    assert "Up to 3 rounds × 1 image per prompt" in card.locator(".inb-order-refine-line").inner_text()

    rounds = card.locator("[data-field=refine_iterations] input")
    rounds.fill("0")
    card.get_by_role("button", name="Start refining").click()
    card.locator("[data-field=refine_iterations] .inb-field-error", has_text="at least 1").wait_for(timeout=15_000)
    assert "Not started: see Rounds." in order.locator(".inb-order-note").inner_text()
    assert studio.refinements().empty                            # nothing stored

    rounds.fill("1")
    card.locator("[data-field=refine_iterations] .inb-field-error").wait_for(state="detached", timeout=5_000)
    card.locator("[data-field=refine_stop_at] input").fill("-1000000")
    assert "Up to 1 round × 1 image" in card.locator(".inb-order-refine-line").inner_text()
    tab.shot("order-refine", order)
    card.get_by_role("button", name="Start refining").click()
    note = order.locator(".inb-order-note .inb-order-refined")
    note.wait_for(timeout=30_000)
    assert "Refining “a lighthouse at dusk”, up to 1 round" in note.inner_text()
    assert "Production" in note.inner_text()
    refinements = studio.refinements()
    assert len(refinements) == 1
    ref_id = refinements.iloc[0]["id"]

    order.locator(".inb-order-note").get_by_role("button", name="Production →").click()
    row = tab.page.locator(f'.inb-tabbody[data-panel="production"] .inb-refine[data-id="{ref_id}"]')
    row.wait_for(timeout=30_000)
    assert "a lighthouse at dusk" in row.inner_text()
    assert studio.get_refinement(ref_id).wait(300).status == "done"
    row.locator(".inb-production-state", has_text="refined").wait_for(timeout=30_000)
    assert not tab.errors, tab.errors
