"""A saved notebook reopened without its kernel shows the panel's snapshot, not "model not found"
(issue 11, item 7).

In a real JupyterLab: run a cell showing the Studio widget (and one showing the Gallery alone) (the snapshot is on the page but
hidden while the live panel is there), order more from another cell (the snapshot follows
through its display_id), save, shut the kernel down, reload the page: the snapshot shows with
the last counts and thumbnails, JupyterLab's "model not found" line does not. Running the cell
again brings the live panel back and hides the snapshot. An untrusted copy (edited elsewhere)
still shows the snapshot's text and thumbnails, unstyled.
"""

from __future__ import annotations

import json

import pytest

from conftest import lab_menu, lab_notebook, lab_open

pytestmark = pytest.mark.browser

SETUP = ('import imagen_nb as inb\n'
         'studio = inb.Studio()\n'
         'studio.order("instant:swatch", prompt="a [red,blue] kite", seed="[1,2]").wait()\n'
         'print("ready")')
MORE = 'studio.order("instant:swatch", prompt="a green kite", seed="[3,4]").wait()\nprint("snapshot-test: ordered")'


def test_a_reopened_notebook_shows_the_snapshot_not_an_error(jupyter_server, tab):
    base, token, root = jupyter_server
    path = root / "snapshot.ipynb"
    lab_notebook(path, SETUP, "studio", MORE, "inb.Gallery(studio)")
    page = tab.page
    url = f"{base}/lab/tree/snapshot.ipynb?token={token}"
    lab_open(page, url)
    lab_menu(page, "Run", "Run All Cells")
    widget = page.locator(".inb-studio").first
    widget.wait_for(timeout=120_000)
    page.locator(".jp-OutputArea-output", has_text="snapshot-test: ordered").wait_for(timeout=60_000)
    page.locator(".inb-root").nth(1).wait_for(timeout=60_000)  # the Gallery alone, in the last cell
    snapshot = page.locator(".inb-snapshot-studio")  # a class: the sanitizer keeps it
    gallery = page.locator(".inb-snapshot-gallery")
    gallery.wait_for(state="attached", timeout=30_000)
    assert snapshot.count() == 1 and gallery.count() == 1, "each widget's cell has one snapshot output"
    assert snapshot.is_hidden() and gallery.is_hidden(), "snapshots are hidden while the live panels are there"
    # The second order (from another cell) reaches the hidden snapshot through its display_id.
    page.wait_for_function("() => (document.querySelector('.inb-snapshot') || {}).textContent?.includes('6 products')",
                           timeout=30_000)
    assert snapshot.is_hidden()

    page.locator(".jp-Cell .jp-InputArea-prompt").first.click()
    page.keyboard.press("Control+s")
    page.locator(".jp-mod-dirty").wait_for(state="detached", timeout=20_000)
    saved = json.loads(path.read_text())
    outputs = saved["cells"][1]["outputs"]
    assert [sorted(o["data"]) for o in outputs] == [
        ["application/vnd.jupyter.widget-view+json", "text/plain"], ["text/html", "text/plain"]]
    html = "".join(outputs[1]["data"]["text/html"])
    assert "6 products" in html and "Run this cell to open the live panel." in html
    assert len(json.dumps(outputs[1])) < 64_000, "a snapshot stays small in the notebook file"

    lab_menu(page, "Kernel", "Shut Down Kernel")
    page.wait_for_timeout(1000)
    page.reload()
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
    try:  # reopened: JupyterLab may ask which kernel to start
        page.locator(".jp-Dialog").get_by_role("button", name="Select", exact=True).click(timeout=10_000)
    except Exception:
        pass
    snapshot.wait_for(state="visible", timeout=60_000)
    gallery.wait_for(state="visible", timeout=60_000)
    # JupyterLab gives up on the widget once its manager is restored; give it that time.
    page.wait_for_timeout(4000)
    assert snapshot.is_visible()
    text = snapshot.inner_text()
    assert "Run this cell to open the live panel." in text and "6 products" in text
    assert "a green kite" in text, "the recent orders are listed"
    shown = page.evaluate("""() => [...document.querySelectorAll('.inb-snapshot img')]
                                   .filter((i) => i.complete && i.naturalWidth > 0).length""")
    assert shown == 12, f"the newest products show as thumbnails in both snapshots ({shown} of 12 decoded)"
    assert "6 products" in gallery.inner_text() and "Recent orders" not in gallery.inner_text()
    errors = page.locator(".jp-OutputArea-output", has_text="Error displaying widget")
    assert errors.count() == 0 or all(errors.nth(i).is_hidden() for i in range(errors.count())), \
        "JupyterLab's 'model not found' line is hidden behind the snapshot"
    assert page.locator(".inb-root").count() == 0
    tab.shot("snapshot-reopened-gallery", page.locator(".jp-Cell").nth(3))
    tab.shot("snapshot-reopened", page.locator(".jp-Cell").nth(1))

    # A notebook JupyterLab does not trust (its signature no longer matches: edited elsewhere) gets
    # its HTML sanitized: the snapshot's <style> is dropped, its text and thumbnails stay.
    saved = json.loads(path.read_text())
    saved["metadata"]["edited_elsewhere"] = True
    path.write_text(json.dumps(saved))
    page.reload()
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
    try:
        page.locator(".jp-Dialog").get_by_role("button", name="Select", exact=True).click(timeout=10_000)
    except Exception:
        pass
    snapshot.wait_for(state="visible", timeout=60_000)
    assert page.locator(".inb-snapshot style").count() == 0, "untrusted: the sanitizer dropped the <style>"
    assert "Run this cell to open the live panel." in snapshot.inner_text()
    page.wait_for_function("() => [...document.querySelectorAll('.inb-snapshot img')]"
                           ".filter((i) => i.complete && i.naturalWidth > 0).length === 12", timeout=20_000)
    tab.shot("snapshot-untrusted", page.locator(".jp-Cell").nth(1))

    # Running the cells again brings the live panel back and hides the snapshot.
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(timeout=60_000)
    lab_menu(page, "Run", "Run All Cells")
    page.locator(".inb-studio").first.wait_for(timeout=120_000)
    page.locator(".jp-OutputArea-output", has_text="snapshot-test: ordered").wait_for(timeout=60_000)
    page.locator(".inb-root").nth(1).wait_for(timeout=60_000)
    gallery.wait_for(state="attached", timeout=30_000)
    assert snapshot.count() == 1 and snapshot.is_hidden() and gallery.count() == 1 and gallery.is_hidden()
    tab.shot("snapshot-live-again", page.locator(".jp-Cell").nth(1))
