"""Comparison grids (X/Y/Z plots) of orders and of any products (issue 13)."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from imagen_nb.core.errors import ValidationError
from imagen_nb.core.grid import GridTooLarge
from imagen_nb.store import pngmeta
from imagen_nb.store.grids import CELL_COLOURS


def check_labels(studio, grid):
    """Every cell's product has the parameters its axes' labels say (read back by product id)."""
    cells = grid.cells
    assert cells[cells["status"] != "missing"]["product_id"].notna().all()
    for cell in cells.dropna(subset=["product_id"]).to_dict("records"):
        params = dict(studio.product(cell["product_id"]).params)
        row = studio.sql("select row_values from set_products where product_id = ?", [cell["product_id"]])
        params.update(json.loads(row.iloc[0, 0]) if len(row) else {})
        for axis in ("x", "y", "z"):
            name = grid.axes[axis]
            if name is not None:
                assert params[name] == cell[axis], (axis, name, cell)
    return cells


def test_axes_are_inferred_from_the_orders_groups_largest_first(studio):
    order = studio.order("instant:swatch", prompt="a [red,blue] fox", seed="[1..3]", num_inference_steps=2).wait(30)
    grid = order.grid()
    assert grid.axes == {"x": "seed", "y": "prompt", "z": None}
    assert grid.layout.x.labels == ("1", "2", "3") and grid.layout.y.labels == ("a red fox", "a blue fox")
    cells = check_labels(studio, grid)
    assert len(cells) == 6 and set(cells["status"]) == {"complete"}
    assert grid.layout.fixed == {"num_inference_steps": 2}  # the legend


def test_swapped_axes_hold_the_same_products(studio):
    order = studio.order("instant:swatch", prompt="a [red,blue] fox", seed="[1..3]").wait(30)
    a = order.grid().cells.set_index(["x", "y"])["product_id"]
    b = order.grid(x="prompt", y="seed").cells.set_index(["y", "x"])["product_id"]
    b.index.names = ["x", "y"]
    assert a.sort_index().to_dict() == b.sort_index().to_dict()
    wide, tall = order.grid().image, order.grid(x="prompt", y="seed").image
    assert wide.width > wide.height and tall.height > tall.width


def test_a_z_axis_stacks_one_grid_per_value(studio):
    order = studio.order("instant:swatch", prompt="a [red,blue] fox", seed="[1..3]",
                         num_inference_steps="[1,2]").wait(30)
    grid = order.grid()
    assert grid.axes == {"x": "seed", "y": "prompt", "z": "num_inference_steps"}
    assert len(check_labels(studio, grid)) == 12
    flat = order.grid(x="seed", y="prompt")
    assert flat.image.height < grid.image.height  # two blocks stacked
    assert set(flat.cells["count"]) == {2}  # without z, each cell holds both step counts


def test_failed_and_missing_cells_are_drawn_as_such(faulty_studio):
    studio = faulty_studio
    order = studio.order("faulty:swatch", prompt="[cat,ox]", seed="[1,2]").wait(30)
    grid = order.grid()
    cells = grid.cells
    failed = cells[cells["status"] == "failed"]
    assert grid.axes["x"] == "prompt"  # a tie keeps the parameters' order
    assert len(failed) == 2 and set(failed["x"]) == {"ox"} and failed["product_id"].isna().all()
    colours = {c for _, c in grid.image.getcolors(maxcolors=1 << 20)}
    assert CELL_COLOURS["failed"] in colours

    rows = [{"value": "Ace", "suit": "Spades"}, {"value": "Two", "suit": "Hearts"}, {"value": "Ace", "suit": "Hearts"}]
    deck = studio.order("faulty:swatch", rows=rows, prompt="{value} of {suit}").wait(30)
    grid = deck.grid(x="value", y="suit")
    missing = grid.cells[grid.cells["status"] == "missing"]
    assert missing[["x", "y"]].values.tolist() == [["Two", "Spades"]]
    assert CELL_COLOURS["missing"] in {c for _, c in grid.image.getcolors(maxcolors=1 << 20)}
    for cell in grid.cells[grid.cells["status"] == "complete"].to_dict("records"):
        prompt = studio.product(cell["product_id"]).params["prompt"]
        assert prompt == f"{cell['x']} of {cell['y']}"


def test_running_generations_are_placeholders(studio):
    order = studio.order("instant:swatch", prompt="p", seed="[1..4]", num_inference_steps=50, step_seconds=0.2)
    try:
        cells = order.grid().cells
        assert set(cells["status"]) <= {"pending", "generating", "complete"} and "complete" != set(cells["status"])
        assert cells[cells["status"] != "complete"]["product_id"].isna().all()
    finally:
        order.cancel()
        order.wait(30)


def test_an_order_from_rows_lays_its_rows_on_one_axis(studio):
    order = studio.order_set("zodiac", "instant:swatch", seed="[1,2]", width=64, height=64).wait(30)
    grid = order.grid()
    assert grid.axes == {"x": "row", "y": "seed", "z": None}  # the prompt is the rows' doing: one axis, row
    assert grid.layout.x.labels[0] == "1. Aries March 21 - April 19"
    for cell in grid.cells.to_dict("records"):
        generation = studio.generation(studio.product(cell["product_id"]).generation_id)
        assert generation["params"]["seed"] == cell["y"]
        assert generation["params"]["prompt"].startswith("a zodiac card, celestial engraving, ")
        row = studio.sql("select set_row from set_products where product_id = ?", [cell["product_id"]]).iloc[0, 0]
        assert row == cell["x"]
    assert grid.title.endswith("(set zodiac)")
    deck = studio.order_set("card_deck", "instant:swatch", seed="[1,2]", width=64, height=64).wait(60)
    assert deck.grid().axes == {"x": "seed", "y": "row", "z": None}  # 54 rows go down, not across
    by_card = deck.grid(x="value", y="suit", z="seed")
    assert by_card.layout.size() == (14, 6, 2)
    check_labels(studio, by_card)


def test_the_size_cap_refuses_with_a_clear_message_and_big_orders_stay_bounded(studio):
    order = studio.order("instant:swatch", prompt="[a,b,c,d] fox", seed="[1..250]").wait(120)
    with pytest.raises(GridTooLarge, match=r"over the cap of 1,000 px a side.*max_side=…"):
        order.grid(x="prompt", y="seed", max_side=1000)
    grid = order.grid()  # 1,000 products
    assert max(grid.image.size) <= 8192 and grid.image.width * grid.image.height <= 8192 * 8192
    assert grid.cells["product_id"].notna().sum() == 1000
    lone = order.grid(x="seed")  # one long axis wraps into rows
    assert lone.image.width < 8192 and lone.image.height < 8192 and len(lone.cells) == 250


def test_studio_grid_groups_any_products_by_gallery_columns(studio):
    studio.order("instant:swatch", prompt="fox", seed="[1,2]").wait(30)
    studio.order("instant:swatch", prompt="owl", seed="[1,2,3]", guidance_scale=3).wait(30)
    grid = studio.grid("select product_id from gallery", x="seed", y="prompt")
    cells = grid.cells
    assert grid.layout.x.values == (1, 2, 3) and grid.layout.y.values == ("fox", "owl")
    assert cells.set_index(["x", "y"]).loc[(3, "fox"), "status"] == "missing"
    check_labels(studio, grid)
    ids = list(cells["product_id"].dropna())
    by_param = studio.grid(ids, x="guidance_scale")
    assert set(by_param.layout.x.values) == {3, 7.5}
    with pytest.raises(ValidationError, match="Did you mean 'prompt'"):
        studio.grid(ids, x="promt")
    with pytest.raises(ValidationError, match="name the axes"):
        studio.grid(ids)


def test_a_grid_shows_in_a_notebook_saves_as_png_and_as_a_product(studio, tmp_path):
    order = studio.order("instant:swatch", prompt="a [red,blue] fox", seed="[1..3]").wait(30)
    grid = order.grid()
    shown = Image.open(io.BytesIO(grid._repr_png_()))
    assert shown.size == grid.image.size
    path = grid.save(tmp_path / "grid.png")
    meta = pngmeta.read(path)
    text = Image.open(path).info["parameters"]
    assert "seed" in text and "1, 2, 3" in text and "a red fox, a blue fox" in text
    assert meta["params"]["x_type"] == "seed" and meta["params"]["y_type"] == "prompt"
    product = grid.save_product()
    assert product.params["x_values"] == "1, 2, 3" and product.params["order"] == order.id
    assert studio.gallery_count() == 7
    with pytest.raises(ValidationError, match="ending in .png"):
        grid.save(tmp_path / "grid.jpg")


def test_a_deleted_products_cell_is_missing_until_it_is_restored(studio):
    order = studio.order("instant:swatch", prompt="a [red,blue] fox", seed="[1..3]").wait(30)
    gone = order.grid().cells.iloc[0]["product_id"]
    studio.delete(gone)
    cells = order.grid().cells
    assert cells.iloc[0]["status"] == "missing" and cells["product_id"].isna().sum() == 1
    studio.delete(gone, undo=True)
    assert order.grid().cells.iloc[0]["product_id"] == gone
