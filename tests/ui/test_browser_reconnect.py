"""A busy kernel at start-up (a notebook running all its cells) in headless Chromium: every panel's
first request times out, the "Kernel disconnected" banner shows, and when the kernel answers again
each panel asks again and loads (none stays at "Could not load"). The page's clock is moved past
the request timeout instead of waiting 30 s."""

from __future__ import annotations

import threading

import pytest

from imagen_nb.ui.production import ProductionController
from imagen_nb.ui.projects import ProjectsController

pytestmark = pytest.mark.browser


@pytest.fixture
def busy_start(monkeypatch):
    """Hold the first init of Production and Projects until the test releases it (the kernel
    busy with a cell): yields (entered, release) events."""
    entered, release = threading.Event(), threading.Event()
    for cls in (ProductionController, ProjectsController):
        original = cls.rpc_init
        first = [True]

        def held(self, _original=original, _first=first):
            if _first[0]:
                _first[0] = False
                entered.set()
                release.wait(60)
            return _original(self)

        monkeypatch.setattr(cls, "rpc_init", held)
    yield entered, release
    release.set()


def test_panels_load_when_a_busy_kernel_answers(studio, served, tab, open_studio, busy_start):
    entered, release = busy_start
    studio.project("Cards")
    tab.page.clock.install()
    production = open_studio(tab, served, "production")
    assert entered.wait(30), "the Production panel never asked for its orders"
    tab.page.clock.fast_forward(31_000)   # past the 30 s request timeout
    banner = tab.page.locator(".inb-disconnected")
    banner.wait_for(state="visible", timeout=10_000)
    production.locator(".inb-empty", has_text="Could not load the orders").wait_for(timeout=10_000)
    tab.shot("busy-kernel", production)

    release.set()   # the kernel answers: its late replies reconnect the panels, which ask again
    banner.wait_for(state="hidden", timeout=20_000)
    production.locator(".inb-empty", has_text="No orders yet").wait_for(timeout=30_000)
    assert not production.locator(".inb-empty", has_text="Could not load").count()
    tab.page.locator('.inb-tab[data-tab="projects"]').click()
    projects = tab.page.locator('.inb-tabbody[data-panel="projects"]')
    projects.locator(".inb-projects-card", has_text="Cards").wait_for(timeout=20_000)
    assert not projects.locator(".inb-empty", has_text="Could not load").count()
    # The Order and Gallery panels met the same timeout and came back through the same hook.
    tab.page.locator('.inb-tab[data-tab="order"]').click()
    order = tab.page.locator('.inb-tabbody[data-panel="order"]')
    order.locator("input[aria-label=Model]").wait_for(timeout=20_000)
    assert not order.locator(".inb-order-warn", has_text="could not start").count()
    tab.page.locator('.inb-tab[data-tab="gallery"]').click()
    gallery = tab.page.locator('.inb-tabbody[data-panel="gallery"]')
    gallery.wait_for(state="visible")
    assert not gallery.locator(".inb-empty", has_text="Could not open the gallery").count()
