"""An order's comparison grid from its Production row (issue 13), in headless Chromium: inside
the Studio app "Grid" opens the Gallery's grid view of that order; a Production panel standing
alone draws the grid itself (axes from menus, swap, thumbnails in the cells)."""

from __future__ import annotations

import re

import pytest

from conftest import serving

pytestmark = pytest.mark.browser


@pytest.fixture
def production_alone(studio):
    """The Production panel alone (``studio_app(studio, "production")``), served in this process."""
    with serving(studio, "production") as url:
        yield url


def test_grid_from_a_production_row_opens_the_gallerys_grid_view(studio, served, tab, open_studio):
    order = studio.order("instant:swatch", prompt="a [red,blue] fox", seed="[1..3]").wait(60)
    production = open_studio(tab, served, "production")
    row = production.locator(f'.inb-production-order[data-id="{order.id}"]')
    row.get_by_role("button", name="Grid", exact=True).click()
    gallery = tab.page.locator('.inb-tabbody[data-panel="gallery"]')
    gallery.wait_for(state="visible", timeout=15_000)
    table = gallery.locator(".inb-gallery-compare .inb-gallery-gtable")
    table.wait_for(timeout=30_000)
    assert table.locator("td[data-status]").count() == 6
    assert not tab.errors, tab.errors


def test_a_production_panel_alone_draws_the_grid_itself(studio, production_alone, tab):
    order = studio.order("instant:swatch", prompt="a [red,blue] fox", seed="[1..3]").wait(60)
    single = studio.order("instant:swatch", prompt="one fox").wait(60)
    tab.page.goto(production_alone)
    row = tab.page.locator(f'.inb-production-order[data-id="{order.id}"]')
    row.wait_for(timeout=30_000)
    lone = tab.page.locator(f'.inb-production-order[data-id="{single.id}"]')
    assert lone.get_by_role("button", name="Grid", exact=True).count() == 0   # one generation: no grid
    assert row.get_by_role("button", name="Gallery →").count() == 0            # no Gallery to go to here
    row.get_by_role("button", name="Grid", exact=True).click()
    dialog = tab.page.get_by_role("dialog", name="Order grid")
    grid = dialog.locator("table.inb-pgrid")
    grid.wait_for(timeout=30_000)
    assert grid.locator("thead th").all_inner_texts()[1:] == ["1", "2", "3"]
    assert grid.locator("tbody th").all_inner_texts() == ["a red fox", "a blue fox"]
    assert "x: seed · y: prompt" in dialog.locator(".inb-pgrid-caption").inner_text()
    grid.locator("td img").nth(5).wait_for(timeout=15_000)                     # every cell's thumbnail
    # Each cell is the product its labels name.
    first = grid.locator("tbody tr").nth(1).locator("td").nth(2)
    product = studio.product(first.get_attribute("data-product"))
    assert product.prompt == "a blue fox" and product.params["seed"] == 3
    tab.shot("production-grid", dialog)
    # a click on a cell opens that generation's details over the grid; closing them goes back to it
    first.click()
    details = tab.page.get_by_role("dialog", name=re.compile(r"^Generation \d+"))
    details.wait_for(timeout=15_000)
    assert "a blue fox" in details.inner_text()
    tab.page.keyboard.press("Escape")
    details.wait_for(state="detached", timeout=5_000)
    grid.wait_for(timeout=5_000)
    dialog.get_by_role("button", name="Swap x ↔ y").click()
    dialog.locator(".inb-pgrid-caption", has_text="x: prompt · y: seed").wait_for(timeout=15_000)
    assert grid.locator("thead th").all_inner_texts()[1:] == ["a red fox", "a blue fox"]
    dialog.get_by_label("Grid x axis").select_option("seed")
    dialog.locator(".inb-pgrid-caption", has_text="x: seed").wait_for(timeout=15_000)
    dialog.get_by_role("button", name="Close").click()
    dialog.wait_for(state="detached", timeout=5_000)
    assert not tab.errors, tab.errors
