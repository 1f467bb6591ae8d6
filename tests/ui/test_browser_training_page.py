"""A training run's page from its Production row (issue 16) in headless Chromium: the loss curve,
the samples by step and the checkpoints; "Use this checkpoint" opens the Order panel with the
base model and that checkpoint in its LoRA field, and the order made with it records the LoRA."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.browser


def test_the_run_page_and_use_this_checkpoint(studio, served, tab, open_studio):
    order = studio.order("diffusers:tiny", prompt="a [red,blue] cat", seed=3, num_inference_steps=2).wait(300)
    run = studio.train_lora("pagebrowser", products=order.products, steps=8, checkpoint_every=4, sample_every=4,
                            sample_prompts=["a cat"], seed=1, batch_size=2, rank=4, resolution=64)
    assert run.wait(timeout=600) and run.status == "completed"
    production = open_studio(tab, served, "production")
    row = production.locator(f'.inb-training-row[data-id="{run.id}"]')
    row.get_by_role("button", name="Details").click()
    page = tab.page.get_by_role("dialog", name="Training run")
    page.locator(".inb-run-curve svg path").wait_for(timeout=30_000)
    assert "steps 1 – 8" in page.locator(".inb-run-curve figcaption").inner_text()
    assert page.locator(".inb-run-sample-label").all_inner_texts() == ["step 4", "step 8"]
    page.locator(".inb-run-samples img").first.wait_for(timeout=15_000)
    assert page.locator(".inb-run-checkpoints li").count() == 2
    assert "step 8 · final LoRA" in page.locator(".inb-run-checkpoints").inner_text()
    tab.shot("training-page", page)

    ck = page.locator('.inb-run-checkpoints li[data-lora="pagebrowser/step-000004"]')
    ck.get_by_role("button", name="Use this checkpoint").click()
    order_tab = tab.page.locator('.inb-tabbody[data-panel="order"]')
    order_tab.wait_for(state="visible", timeout=15_000)
    order_tab.locator(".inb-order-note", has_text="LoRA pagebrowser/step-000004 is in the form").wait_for(timeout=30_000)
    assert order_tab.locator("input[aria-label=Model]").input_value() == "diffusers:tiny"
    lora = order_tab.get_by_label("LoRA", exact=True)
    assert lora.input_value() == "pagebrowser/step-000004"
    order_tab.locator("[data-field=prompt] textarea").fill("a cat")
    order_tab.locator("[data-field=num_inference_steps] input").fill("2")
    order_tab.locator(".inb-order-go").click()
    order_tab.locator(".inb-order-note", has_text="fulfilled").wait_for(timeout=120_000)
    placed = studio.get_order(studio.orders(limit=1)["id"][0])
    assert "pagebrowser/step-000004" in json.dumps(placed.products[0].params["loras"], default=str)
    assert not tab.errors, tab.errors
