"""The LoRA picker: names from the LoRA folder, a weight slider, add and remove, instead of a
JSON text box (issue 11, item 6)."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.browser


def test_lora_picker_adds_weights_and_removes(studio, served, tab, open_studio):
    (studio.home / "loras").mkdir()
    for name in ("ink", "watercolor"):
        (studio.home / "loras" / f"{name}.safetensors").write_bytes(b"")
    order = open_studio(tab, served, "order")
    model = order.locator("[data-field=model] input, input[aria-label=Model]").first
    model.wait_for()
    model.fill("diffusers:tiny")
    # Enter picks the first match (ArrowDown first would move to the second one: tiny-upscaler
    # when the models are already loaded; the test used to depend on that timing).
    model.press("Enter")
    field = order.locator("[data-field=loras]")
    try:
        field.wait_for(state="attached", timeout=40_000)
    except Exception:
        tab.shot("loras-no-field", order)
        print("MODEL", model.input_value(), tab.errors)
        raise
    advanced = order.locator("details", has=field)
    if advanced.count() and not advanced.first.evaluate("(d) => d.open"):
        advanced.first.locator("summary").click()
    order.locator("[data-field=prompt] textarea").fill("a lighthouse")
    field.get_by_role("button", name="+ Add LoRA").click()
    field.get_by_label("LoRA", exact=True).select_option("ink")
    field.get_by_label("LoRA weight", exact=True).fill("0.6")
    field.get_by_role("button", name="+ Add LoRA").click()
    field.get_by_label("LoRA", exact=True).nth(1).select_option("watercolor")
    field.get_by_role("button", name="Remove LoRA").nth(1).click()
    order.locator(".inb-order-count", has_text="1 generation").wait_for(timeout=15_000)
    assert not field.locator(".inb-field-error").count()
    field.get_by_role("button", name="Edit as text").click()
    value = field.locator("input.inb-input:not([type])").first.input_value()
    assert json.loads(value) == [{"name": "ink", "weight": 0.6}]
    tab.shot("loras", order)
    assert not tab.errors, tab.errors
