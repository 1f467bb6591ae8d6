"""The Production panel's LoRA training row (issue 16) in headless Chromium: live step and loss
with a sparkline, Cancel and Resume by clicking (the Panel app, in this process over the test's studio)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_a_training_run_is_a_live_row_with_a_sparkline_cancel_and_resume(studio, served, tab, open_studio):
    order = studio.order("diffusers:tiny", prompt="a [red,blue] [cat,dog]", seed=3, num_inference_steps=2).wait(300)
    run = studio.train_lora("browser", products=order.products, steps=5000, checkpoint_every=0, seed=1, batch_size=2,
                            rank=4, resolution=64)
    production = open_studio(tab, served, "production")
    row = production.locator(f'.inb-training-row[data-id="{run.id}"]')
    row.wait_for(timeout=60_000)
    assert "LoRA browser" in row.inner_text()
    row.locator("svg.inb-training-spark path").wait_for(timeout=60_000)  # two losses or more: a line
    figures = row.locator(".inb-training-figures")
    first = figures.inner_text()
    assert "step " in first and "/ 5,000" in first and "loss " in first
    tab.page.wait_for_function("([el, before]) => el.innerText !== before",
                               arg=[figures.element_handle(), first], timeout=30_000)  # live
    tab.shot("production-training", production)

    row.get_by_role("button", name="Cancel", exact=True).click()
    assert run.wait(timeout=120) and run.status == "cancelled"
    row.locator(".inb-production-state", has_text="cancelled").wait_for(timeout=15_000)
    row.get_by_role("button", name="Resume", exact=True).click()
    row.locator(".inb-production-state", has_text="training").wait_for(timeout=30_000)
    assert run.status in ("pending", "training")
    row.get_by_role("button", name="Cancel", exact=True).click()
    assert run.wait(timeout=120) and run.status == "cancelled"
    assert not tab.errors, tab.errors
