"""The Production panel's grid of an order (issue 13) through the controller: the layout of
``studio.views.grid_layout`` with axes inferred or named, a cap on the cells sent, and errors at
the axis (or the order) at fault."""

from __future__ import annotations

import pytest

from imagen_nb.ui import production_grid
from imagen_nb.ui.production import ProductionController


@pytest.fixture
def production(studio, page):
    return page(ProductionController(studio))


def test_the_grid_reads_the_orders_own_axes(production, studio):
    order = studio.order("instant:swatch", prompt="a [red,blue] fox", seed="[1..3]").wait(60)
    grid = production.call("grid", order_id=order.id)
    assert grid["axes"]["x"] == {"name": "seed", "labels": ["1", "2", "3"]}        # the larger axis first
    assert grid["axes"]["y"] == {"name": "prompt", "labels": ["a red fox", "a blue fox"]}
    assert grid["total"] == grid["shown"] == 6
    # Every cell is the product whose parameters its labels name.
    for cell in grid["cells"]:
        product = studio.product(cell["product_id"])
        assert product.params["seed"] == int(grid["axes"]["x"]["labels"][cell["x"]])
        assert product.prompt == grid["axes"]["y"]["labels"][cell["y"]]
        assert product.generation_id == cell["generation_id"]  # a click opens that generation's details
    swapped = production.call("grid", order_id=order.id, x="prompt", y="seed")
    assert swapped["axes"]["x"]["name"] == "prompt" and swapped["axes"]["y"]["name"] == "seed"


def test_a_big_grid_sends_its_first_cells_and_says_how_many_there_are(production, studio, monkeypatch):
    monkeypatch.setattr(production_grid, "GRID_MAX_CELLS", 4)
    order = studio.order("instant:swatch", prompt="a [red,blue] fox", seed="[1..3]").wait(60)
    grid = production.call("grid", order_id=order.id)
    assert grid["total"] == 6 and grid["shown"] == 4 and len(grid["cells"]) == 4


def test_errors_come_back_at_the_axis_or_the_order(production, studio):
    order = studio.order("instant:swatch", prompt="a [red,blue] fox").wait(60)
    err = production.error("grid", order_id=order.id, x="nope")
    assert err["field"] == "grid_x" and "nope" in err["message"]
    assert production.error("grid", order_id="01nosuchorder")["field"] == "order_id"
    assert production.error("grid", order_id="")["field"] == "order_id"
