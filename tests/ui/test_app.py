"""`imagen-nb serve` behind a password: a login page (served locally) before the panels, and a
logout that ends the session. The HTTP-level attacks are in tests/reliability/test_http_probes.py."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_serve_with_a_password_asks_for_it_first(serve_app, tab):
    url = serve_app(IMAGEN_NB_PASSWORD="s3cret")
    page = tab.page
    page.goto(url)
    page.locator("input[name=password]").wait_for(timeout=20_000)
    assert page.locator(".inb-studio").count() == 0
    page.locator("input[name=username]").fill("me")
    page.locator("input[name=password]").fill("wrong")
    page.locator("input[name=password]").press("Enter")
    page.locator("input[name=password]").wait_for()
    assert page.locator(".inb-studio").count() == 0
    page.locator("input[name=username]").fill("me")
    page.locator("input[name=password]").fill("s3cret")
    page.locator("input[name=password]").press("Enter")
    page.locator(".inb-studio").wait_for(timeout=30_000)
    page.locator('.inb-tab[data-tab="gallery"]').click()
    page.locator('.inb-tabbody[data-panel="gallery"]').wait_for(state="visible")
    # The content security policy lets the whole app run (a violation is a console error).
    assert [e for e in tab.errors if "status of 401" not in e] == [], tab.errors
    page.goto(url + "logout")
    page.get_by_text("You are signed out").wait_for()
    page.goto(url)
    page.locator("input[name=password]").wait_for(timeout=20_000)
    assert page.locator(".inb-studio").count() == 0
