"""The Gallery's grid view (issue 13): an order's products on the parameters that vary in it,
axes from menus, swap, failed cells shown as such, a cell opens its product; a selection's grid;
in the served app, wide and at notebook width."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


@pytest.fixture
def studio(faulty_studio):
    """``faulty:swatch`` fails the prompts that hold an x: failed cells to show."""
    return faulty_studio


def _cells(grid) -> dict[tuple[str, str], str]:
    """{(column label, row label): product id} of the cells that show a product."""
    return grid.evaluate("""(table) => {
        const xs = [...table.querySelectorAll('thead .inb-gallery-gx')].map((th) => th.textContent.trim());
        const out = {};
        table.querySelectorAll('tbody tr').forEach((tr) => {
            const y = tr.querySelector('.inb-gallery-gy').textContent.trim();
            tr.querySelectorAll('td').forEach((td, i) => {
                const b = td.querySelector('[data-id]');
                if (b) out[xs[i] + '|' + y] = b.dataset.id;
            });
        });
        return out;
    }""")


@pytest.mark.parametrize("width", [1400, 480])
def test_grid_view_of_an_order_swaps_axes_and_opens_a_cell(studio, served, tab, open_studio, width):
    tab.page.set_viewport_size({"width": width, "height": 900})
    order = studio.order("faulty:swatch", prompt="[a cat,a box]", seed="[1..3]").wait(30)
    gallery = open_studio(tab, served, "gallery")
    gallery.locator(".inb-gallery-tile").first.click()
    details = tab.page.locator('[aria-label="Product details"]')
    details.get_by_role("button", name="grid view").click()
    view = gallery.locator(".inb-gallery-compare")
    table = view.locator(".inb-gallery-gtable")
    table.wait_for()
    # The axes are what varies in the order, the longer one across; the labels are each cell's own.
    assert view.get_attribute("data-x") == "seed" and view.get_attribute("data-y") == "prompt"
    cells = _cells(table)
    assert len(cells) == 3                                          # "a box" holds an x: failed, no product
    for key, product_id in cells.items():
        seed, prompt = key.split("|")
        product = studio.product(product_id)
        assert str(product.seed) == seed and product.prompt == prompt
    failed = table.locator('td[data-status="failed"]')
    assert failed.count() == 3 and "failed" in failed.first.inner_text()
    table.locator(".inb-gallery-gbtn img").first.wait_for(timeout=10_000)   # thumbnails come in
    assert "Grid view · 6 cells" in gallery.locator(".inb-gallery-status").inner_text()
    tab.shot(f"grid-{width}", gallery)

    view.get_by_role("button", name="Swap").click()
    tab.page.wait_for_function("(el) => el.dataset.x === 'prompt'", arg=view.element_handle(), timeout=10_000)
    assert view.get_attribute("data-y") == "seed"
    swapped = _cells(table)
    assert {tuple(k.split("|")[::-1]): v for k, v in swapped.items()} == {tuple(k.split("|")): v for k, v in cells.items()}
    # An axis from its menu: seed on x again (the axis that had it swaps).
    view.get_by_label("X axis").select_option("seed")
    tab.page.wait_for_function("(el) => el.dataset.x === 'seed' && el.dataset.y === 'prompt'", arg=view.element_handle(),
                               timeout=10_000)

    # A cell opens its product's details; arrows step through the grid's products.
    product_id = cells["2|a cat"]
    table.locator(f'[data-id="{product_id}"]').click()
    details.wait_for()
    details.locator(".inb-gallery-modal-title", has_text="a cat").wait_for(timeout=10_000)
    assert details.locator(".inb-gallery-facts", has_text=str(studio.product(product_id).seed)).count() == 1
    details.press("Escape")
    details.wait_for(state="detached")
    view.get_by_role("button", name="← Products").click()
    gallery.locator(".inb-gallery-tile").first.wait_for()
    assert order.id
    assert not tab.errors, tab.errors


def test_grid_view_of_a_selection_lays_out_what_varies_among_them(studio, served, tab, open_studio):
    studio.order("faulty:swatch", prompt="a [red,blue] kite", seed="[5,6]").wait(30)
    gallery = open_studio(tab, served, "gallery")
    tiles = gallery.locator(".inb-gallery-tile")
    tiles.nth(3).wait_for()
    gallery.get_by_role("button", name="Compare as grid").wait_for(state="detached")
    for i in range(4):
        tiles.nth(i).hover()
        tiles.nth(i).locator(".inb-gallery-check").click()
    gallery.get_by_role("button", name="Compare as grid").click()
    table = gallery.locator(".inb-gallery-gtable")
    table.wait_for()
    cells = _cells(table)
    assert len(cells) == 4
    view = gallery.locator(".inb-gallery-compare")
    assert {view.get_attribute("data-x"), view.get_attribute("data-y")} == {"seed", "prompt"}
    tab.shot("grid-selection", gallery)
    assert not tab.errors, tab.errors


def test_grid_view_fills_in_live_as_the_order_runs(studio, served, tab, open_studio):
    """Cells of generations still queued or running show as placeholders, then their products."""
    # 6 s a generation: the first products are there before the last ones start or finish
    order = studio.order("faulty:swatch", prompt="a [red,blue] kite", seed="[1..3]", num_inference_steps=4,
                         step_seconds=1.5)
    gallery = open_studio(tab, served, "gallery")
    gallery.locator(".inb-gallery-tile").first.click(timeout=60_000)
    tab.page.locator('[aria-label="Product details"]').get_by_role("button", name="grid view").click()
    table = gallery.locator(".inb-gallery-gtable")
    table.wait_for()
    waiting = table.locator('td[data-status="pending"], td[data-status="generating"]')
    assert waiting.count() >= 1, "the grid opened after the order finished: nothing to fill in"
    tab.shot("grid-live", gallery)
    order.wait(60)
    tab.page.wait_for_function("(t) => t.querySelectorAll('[data-id]').length === 6", arg=table.element_handle(),
                               timeout=20_000)
    assert waiting.count() == 0
    assert not tab.errors, tab.errors
