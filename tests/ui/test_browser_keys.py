"""Keys pressed inside a panel never reach JupyterLab's command mode (issue 11, item 1).

In a real JupyterLab, a notebook shows the Studio widget; in each panel (and in the Gallery's
details dialog) we press the command-mode keys that would cut (x), insert (a, b), delete (d d)
or edit (Enter) the widget's cell, and Esc. The notebook must keep its cells, stay in command
mode, and Ctrl+Enter in the order form must order without running the cell again.
"""

from __future__ import annotations

import pytest

from conftest import lab_menu, lab_run_all

pytestmark = pytest.mark.browser

KEYS = ["x", "a", "b", "d", "d", "Enter", "Escape"]

SETUP = ('import imagen_nb as inb\n'
         'studio = inb.Studio()\n'
         'studio.order("instant:swatch", prompt="a [red,blue] kite", seed="[1,2]").wait()\n'
         'print("ready")')


def _state(page) -> dict:
    return page.evaluate("""() => {
        const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
        return { cells: nb.querySelectorAll('.jp-Cell').length,
                 edit: nb.classList.contains('jp-mod-editMode'),
                 widgets: nb.querySelectorAll('.inb-studio').length,
                 prompts: [...nb.querySelectorAll('.jp-InputArea-prompt')].map((p) => p.textContent.trim()) };
    }""")


def test_keys_in_every_panel_leave_the_notebook_alone(lab, tab):
    page = lab("keys.ipynb", SETUP, "studio")
    widget = lab_run_all(page)
    page.locator(".jp-OutputArea-output", has_text="ready").wait_for(timeout=60_000)
    before = _state(page)
    assert before["cells"] == 2 and before["widgets"] == 1

    def press_all(where: str):
        for key in KEYS:
            page.keyboard.press(key)
            page.wait_for_timeout(60)
            now = _state(page)
            assert now["cells"] == 2 and now["widgets"] == 1, f"{key!r} in {where} changed the notebook: {now}"
            assert not now["edit"], f"{key!r} in {where} put the notebook in edit mode"

    for panel in ("projects", "order", "production", "gallery"):
        widget.locator(f'.inb-tab[data-tab="{panel}"]').click()
        body = widget.locator(f'.inb-tabbody[data-panel="{panel}"]')
        body.wait_for(state="visible")
        body.locator(".inb-panel-head").first.click(position={"x": 5, "y": 5})
        press_all(panel)

    # The issue's own path: Gallery → open a product → x.
    widget.locator('.inb-tab[data-tab="gallery"]').click()
    gallery = widget.locator('.inb-tabbody[data-panel="gallery"]')
    gallery.locator(".inb-gallery-tile").first.click()
    widget.locator('[aria-label="Product details"]').wait_for()
    press_all("the gallery's details")
    tab.shot("keys-gallery", widget)

    # Ctrl+Enter in the order form orders; the widget's cell does not run again.
    widget.locator('.inb-tab[data-tab="order"]').click()
    order = widget.locator('.inb-tabbody[data-panel="order"]')
    prompt = order.locator("[data-field=prompt] textarea")
    prompt.fill("a [green,gold] kite")
    order.locator(".inb-order-count", has_text="2 generations").wait_for(timeout=20_000)
    prompts = _state(page)["prompts"]
    prompt.press("Control+Enter")
    widget.locator('.inb-tab[data-tab="production"]').click()
    widget.locator(".inb-production-order", has_text="a [green,gold] kite").wait_for(timeout=30_000)
    after = _state(page)
    assert after["cells"] == 2 and after["prompts"] == prompts, f"Ctrl+Enter ran the cell: {prompts} → {after}"
    assert not [e for e in tab.errors if "imagen-nb" in e or "inb" in e], tab.errors


def test_a_shut_down_kernel_shows_kernel_disconnected(lab, tab):
    """Requests never hang: when the kernel goes away the panel says so (comm closed, or no answer
    within the request timeout)."""
    page = lab("gone.ipynb", SETUP, "studio")
    widget = lab_run_all(page)
    page.locator(".jp-OutputArea-output", has_text="ready").wait_for(timeout=60_000)
    banner = widget.locator(".inb-disconnected")
    assert banner.is_hidden()
    lab_menu(page, "Kernel", "Shut Down Kernel")
    page.wait_for_timeout(1000)
    widget.locator('.inb-tab[data-tab="production"]').click()   # asks the (gone) kernel for fresh rows
    widget.locator('.inb-tab[data-tab="projects"]').click()
    banner.wait_for(state="visible", timeout=45_000)
    assert "Kernel disconnected" in banner.inner_text()
    tab.shot("kernel-disconnected", widget)
