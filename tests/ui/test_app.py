"""`imagen-nb serve` behind a password: a login page (served locally) before the panels."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.browser


def test_serve_with_a_password_asks_for_it_first(home, tab, free_port_fn=None):
    from conftest import free_port, stop, wait_http  # tests/ui is on sys.path (rootdir conftest)

    port = free_port()
    env = {"IMAGEN_NB_HOME": str(home), "PATH": "/usr/bin:/bin", "IMAGEN_NB_PASSWORD": "s3cret"}
    proc = subprocess.Popen([sys.executable, "-m", "imagen_nb", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_http(url, proc)
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
    finally:
        stop(proc)
