"""The served app follows the system's dark mode, with a toggle that is remembered (issue 11)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

BACKGROUND = "(el) => getComputedStyle(el).backgroundColor"


def test_served_app_follows_dark_mode_and_the_toggle(studio, served, tab, open_studio):
    studio.order("instant:swatch", prompt="a [red,blue] kite").wait()
    tab.page.emulate_media(color_scheme="dark")
    gallery = open_studio(tab, served, "gallery")
    root = tab.page.locator(".inb-root").first
    assert root.get_attribute("data-theme") == "dark"
    dark = root.evaluate(BACKGROUND)
    assert dark == "rgb(30, 33, 40)"                                  # the dark theme's background
    gallery.locator(".inb-gallery-tile").first.wait_for()
    tab.shot("dark", root)
    toggle = tab.page.get_by_role("button", name="Switch to the light theme")
    toggle.click()
    assert root.get_attribute("data-theme") == "light" and root.evaluate(BACKGROUND) == "rgb(255, 255, 255)"
    tab.page.reload()                                                  # the choice is remembered
    tab.page.locator(".inb-root").first.wait_for()
    assert tab.page.locator(".inb-root").first.get_attribute("data-theme") == "light"
    tab.page.get_by_role("button", name="Switch to the dark theme").click()
    assert tab.page.locator(".inb-root").first.get_attribute("data-theme") == "dark"
    assert not tab.errors, tab.errors
