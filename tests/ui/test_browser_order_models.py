"""The Order panel's model search while its models are still loading (the cause of the LoRA
picker test's "No model matches"): what is typed and entered then is picked once they come."""

from __future__ import annotations

import threading

import pytest

from imagen_nb.ui.order import OrderController

pytestmark = pytest.mark.browser


@pytest.fixture
def slow_init(monkeypatch):
    """Hold the Order panel's init until the test releases it (a busy kernel or host does the same)."""
    gate = threading.Event()
    original = OrderController.rpc_init

    def held(self):
        gate.wait(30)
        return original(self)

    monkeypatch.setattr(OrderController, "rpc_init", held)
    yield gate
    gate.set()


def test_a_model_entered_before_the_models_load_is_picked_when_they_come(studio, served, tab, open_studio, slow_init):
    order = open_studio(tab, served, "order")
    model = order.locator("input[aria-label=Model]")
    model.wait_for()
    model.fill("diffusers:tiny")
    model.press("ArrowDown")
    # Not "No model matches": the list says the models are coming.
    order.locator(".inb-order-model-list", has_text="Loading models").wait_for(timeout=10_000)
    assert not order.locator(".inb-order-model-list", has_text="No model matches").count()
    model.press("Enter")
    slow_init.set()
    order.locator("[data-field=scheduler]").wait_for(state="attached", timeout=40_000)  # diffusers:tiny's form
    assert model.input_value() == "diffusers:tiny"
    assert not tab.errors, tab.errors


def test_a_search_still_being_typed_survives_the_models_arriving(studio, served, tab, open_studio, slow_init):
    order = open_studio(tab, served, "order")
    model = order.locator("input[aria-label=Model]")
    model.wait_for()
    model.fill("diffusers")
    slow_init.set()
    option = order.locator(".inb-order-model-opt", has_text="tiny").first  # tiny, tiny-upscaler, tiny-esrgan
    option.wait_for(timeout=30_000)
    assert model.input_value() == "diffusers"  # not replaced by the default model's id
    model.press("Enter")
    order.locator("[data-field=scheduler]").wait_for(state="attached", timeout=40_000)
    assert model.input_value() == "diffusers:tiny"
    assert not tab.errors, tab.errors
