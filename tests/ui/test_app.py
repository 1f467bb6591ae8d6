"""`imagen-nb serve` behind a password: a login page (served locally) before the panels."""

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
