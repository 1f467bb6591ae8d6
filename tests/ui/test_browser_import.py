"""Import an A1111 PNG through the Gallery's file picker, then re-order it onto the form's model:
its parameters fill the form, the unmapped ones are named, no model-id error (issue 11, item 2)."""

from __future__ import annotations

import time

import pytest


pytestmark = pytest.mark.browser


def _a1111_png() -> bytes:
    import io

    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("parameters", "a lighthouse at dusk\nNegative prompt: blurry\n"
                  "Steps: 30, Sampler: Euler a, CFG scale: 6.5, Seed: 1234, Size: 64x72, Model: sd_xl_base_1.0")
    buf = io.BytesIO()
    Image.new("RGB", (64, 72), "teal").save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def test_import_an_a1111_png_and_reorder_it_onto_the_chosen_model(studio, served, tab, open_studio, tmp_path):
    png = tmp_path / "lighthouse.png"
    png.write_bytes(_a1111_png())
    (tmp_path / "notes.txt").write_text("not an image")
    gallery = open_studio(tab, served, "gallery")
    gallery.get_by_label("Import images").set_input_files([str(png), str(tmp_path / "notes.txt")])
    tab.page.locator(".inb-toast", has_text="Imported 1 image").wait_for(timeout=20_000)
    assert "1 with parameters" in tab.page.locator(".inb-toast", has_text="Imported").inner_text()
    tile = gallery.locator(".inb-gallery-tile", has_text="a lighthouse at dusk")
    tile.wait_for()
    tile.click()
    tab.page.locator('[aria-label="Product details"]').get_by_role("button", name="Re-order").click()
    order = tab.page.locator('.inb-tabbody[data-panel="order"]')
    prompt = order.locator("[data-field=prompt] textarea")
    prompt.wait_for()
    # The form is redrawn for the chosen model: poll the locator, not one element.
    deadline = time.monotonic() + 15
    while prompt.input_value() != "a lighthouse at dusk" and time.monotonic() < deadline:
        tab.page.wait_for_timeout(100)
    assert prompt.input_value() == "a lighthouse at dusk"
    assert order.locator("[data-field=seed] input").input_value() == "1234"
    note = order.locator(".inb-order-note")
    assert "mapped onto instant:swatch" in note.inner_text()
    assert "Not mapped: model" in note.inner_text()
    assert "model ids look like" not in order.inner_text()
    assert not order.locator(".inb-field-error").count()
    tab.shot("import-reorder", order)
    assert not tab.errors, tab.errors
