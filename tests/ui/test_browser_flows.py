"""The newcomer's flow by clicking, in headless Chromium: in JupyterLab (the quickstart notebook)
and in the Panel app (`imagen-nb serve`). Screenshots of every panel go to test-artifacts/."""

from __future__ import annotations

import pytest

import imagen_nb as inb
from conftest import lab_menu, lab_open

pytestmark = pytest.mark.browser


def order_browse_and_rate(tab, root, label: str) -> str:
    """Place a 2-generation order through the Order panel, find it in the Gallery, rate one
    product 4 stars in its details view. Returns the rated product's id."""
    page = tab.page
    root.locator('.inb-tab[data-tab="order"]').click()
    order = root.locator('.inb-tabbody[data-panel="order"]')
    order.locator("[data-field=model] input, input[aria-label=Model]").first.wait_for()
    prompt = order.locator("[data-field=prompt] textarea")
    prompt.fill("a [red,blue] kite over the sea")
    order.locator(".inb-order-count", has_text="2 generations").wait_for(timeout=20_000)
    order.locator(".inb-order-go").click()
    order.locator(".inb-order-strip-item img").nth(1).wait_for(timeout=90_000)
    order.locator(".inb-order-large-img img").wait_for()
    tab.shot(f"{label}-order", root)

    root.locator('.inb-tab[data-tab="production"]').click()
    production = root.locator('.inb-tabbody[data-panel="production"]')
    production.locator(".inb-production-order", has_text="a [red,blue] kite").wait_for()
    tab.shot(f"{label}-production", root)

    root.locator('.inb-tab[data-tab="projects"]').click()
    root.locator('.inb-tabbody[data-panel="projects"] .inb-projects-card').first.wait_for()
    tab.shot(f"{label}-projects", root)

    root.locator('.inb-tab[data-tab="gallery"]').click()
    gallery = root.locator('.inb-tabbody[data-panel="gallery"]')
    tile = gallery.locator(".inb-gallery-tile", has_text="a red kite over the sea").first
    tile.locator("img").wait_for(timeout=20_000)
    tab.shot(f"{label}-gallery", root)
    product_id = tile.get_attribute("data-id")
    tile.click()
    details = root.locator('[aria-label="Product details"]')
    details.wait_for()
    details.locator('[aria-label="Rating"] [aria-label="Rate 4"]').click()
    page.wait_for_function("(el) => el.getAttribute('aria-pressed') === 'true' || el.classList.length > 1",
                           arg=details.locator('[aria-label="Rating"] [aria-label="Rate 4"]').element_handle())
    tab.shot(f"{label}-details", root)
    return product_id


def test_jupyterlab_quickstart_then_order_and_rate_by_clicking(jupyter_server, tab, home):
    base, token, _root = jupyter_server
    page = tab.page
    lab_open(page, f"{base}/lab/tree/quickstart.ipynb?token={token}")
    lab_menu(page, "Run", "Run All Cells")
    studio_widget = page.locator(".inb-studio").first
    try:
        studio_widget.wait_for(timeout=120_000)
    except Exception:
        tab.shot("jupyterlab-no-widget")
        raise
    # The notebook ends with an instant order: wait for its output, i.e. the whole run.
    page.locator(".jp-OutputArea-output", has_text="instant:swatch").last.wait_for(timeout=240_000)
    assert not page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                            has_text="Error").count()
    studio_widget.scroll_into_view_if_needed()
    product_id = order_browse_and_rate(tab, studio_widget, "jupyterlab")
    # The kernel owns the studio: ask it, in a new cell, what the catalog says.
    page.locator(".jp-Notebook .jp-Cell").last.click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    page.keyboard.press("Enter")
    page.keyboard.type(f"print('rating=' + str(studio.product('{product_id}').rating))")
    page.keyboard.press("Shift+Enter")
    page.locator(".jp-OutputArea-output", has_text="rating=4").wait_for(timeout=30_000)
    assert not [e for e in tab.errors if "imagen-nb" in e or "inb" in e], tab.errors


def test_imagen_nb_serve_order_and_rate_by_clicking(panel_server, tab, home):
    tab.page.goto(panel_server)
    root = tab.page.locator(".inb-studio")
    root.wait_for(timeout=30_000)
    product_id = order_browse_and_rate(tab, root, "serve")
    assert tab.errors == []
    # The server owns the home; once it stops, the catalog has the rating the click gave.
    panel_server.stop()
    with inb.Studio(home) as studio:
        assert studio.product(product_id).rating == 4


def test_imagen_nb_serve_as_a_client_shows_a_notebooks_orders_live(host, panel_server, tab, home):
    # A notebook-like process hosts the home; `imagen-nb serve` is its client.
    tab.page.goto(panel_server)
    root = tab.page.locator(".inb-studio")
    root.wait_for(timeout=30_000)
    root.locator('.inb-tab[data-tab="production"]').click()
    production = root.locator('.inb-tabbody[data-panel="production"]')
    order_id = host.ask("order a [green,yellow] balloon from the notebook")   # placed in the host, after the page opened
    row = production.locator(f'.inb-production-order[data-id="{order_id}"]')
    row.wait_for(timeout=30_000)
    row.locator(".inb-production-state", has_text="fulfilled").wait_for(timeout=30_000)
    tab.shot("client-production", root)
    # and what the browser orders runs on the host
    product_id = order_browse_and_rate(tab, root, "client")
    assert host.ask("gallery") == "6"
    assert tab.errors == []
    with inb.Studio(home) as studio:
        assert studio.hosted_by == host.pid and studio.product(product_id).rating == 4
