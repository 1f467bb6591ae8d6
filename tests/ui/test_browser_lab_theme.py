"""In JupyterLab the panels follow Lab's theme (light or dark), with the Gallery's grid view
readable in both (issue 11: "light and dark, in JupyterLab"); ``widget.show("gallery", order=…,
view="grid")`` opens the grid view from Python. Screenshots to look at."""

from __future__ import annotations

import json

import pytest

from conftest import lab_run_all

pytestmark = pytest.mark.browser

BACKGROUND = "(el) => getComputedStyle(el).backgroundColor"
COLOUR = "(el) => getComputedStyle(el).color"
SETUP = ('import imagen_nb as inb\n'
         'studio = inb.Studio()\n'
         'order = studio.order("instant:swatch", prompt="a [red,blue] kite", seed="[1..3]").wait()\n'
         'print("ready")')


@pytest.mark.parametrize("theme,light,background,text", [
    ("JupyterLab Light", "true", "rgb(255, 255, 255)", "rgb(27, 31, 39)"),
    ("JupyterLab Dark", "false", "rgb(30, 33, 40)", "rgb(232, 234, 239)"),
])
def test_gallery_follows_jupyterlabs_theme(lab, tab, tmp_path, theme, light, background, text):
    # Lab reads its user settings from disk on each page load: choose the theme before opening.
    settings = tmp_path / "jupyter-config" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    (settings / "themes.jupyterlab-settings").write_text(json.dumps({"theme": theme}))
    page = lab("theme.ipynb", SETUP, "w = studio.widget()\nw", 'w.show("gallery", order=order, view="grid")')
    assert page.locator("body").get_attribute("data-jp-theme-light") == light
    widget = lab_run_all(page)
    # The last cell pointed the widget at the order's grid view.
    gallery = widget.locator('.inb-tabbody[data-panel="gallery"]')
    table = gallery.locator(".inb-gallery-gtable")
    table.locator(".inb-gallery-gbtn img").first.wait_for(timeout=60_000)
    view = gallery.locator(".inb-gallery-compare")
    assert view.get_attribute("data-x") == "seed" and view.get_attribute("data-y") == "prompt"
    assert page.locator(".inb-root").first.evaluate(BACKGROUND) == background
    assert table.locator(".inb-gallery-gx").first.evaluate(COLOUR) != background
    tab.shot(f"lab-{light}-grid", widget)
    # The tiles in the same theme.
    view.get_by_role("button", name="← Products").click()
    gallery.locator(".inb-gallery-tile img").first.wait_for(timeout=60_000)
    assert gallery.locator(".inb-gallery-status").evaluate(COLOUR) != background
    assert gallery.locator(".inb-panel-title").evaluate(COLOUR) == text
    tab.shot(f"lab-{light}-gallery", widget)
    assert not [e for e in tab.errors if "imagen-nb" in e or "inb" in e], tab.errors
