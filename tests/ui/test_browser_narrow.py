"""Production at notebook widths (issue 11, item 4): at 480 px wide nothing is cut or clipped,
failed generations show their message, and counts add up; in the served app."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


@pytest.fixture
def studio(faulty_studio):
    """The served app runs over a studio whose ``faulty:swatch`` model fails prompts starting with x."""
    return faulty_studio


def _clipped(locator) -> list[str]:
    """Texts of elements under ``locator`` whose content is cut (wider than their box) or off screen."""
    return locator.evaluate("""(root) => {
        const out = [];
        for (const el of root.querySelectorAll('.inb-production-prompt, .inb-production-model, .inb-production-counts,'
                                               + ' .inb-production-actions button, .inb-production-gerror, .inb-production-gactions button')) {
            const r = el.getBoundingClientRect();
            if (r.width === 0) { out.push('hidden: ' + el.textContent); continue; }
            if (r.right > window.innerWidth + 1) out.push('off screen: ' + el.textContent);
            if (!el.classList.contains('inb-production-prompt') && el.scrollWidth > el.clientWidth + 1) out.push('cut: ' + el.textContent);
        }
        // the order row's counts ("took 3 ms") and its buttons side by side, never one over the other
        for (const orow of root.querySelectorAll('.inb-production-orow')) {
            const counts = orow.querySelector('.inb-production-counts');
            if (!counts) continue;
            const c = counts.getBoundingClientRect();
            for (const button of orow.querySelectorAll('.inb-production-actions button')) {
                const b = button.getBoundingClientRect();
                if (b.left < c.right - 1 && c.left < b.right - 1 && b.top < c.bottom - 1 && c.top < b.bottom - 1)
                    out.push('over the counts: ' + button.textContent);
            }
        }
        return out;
    }""")


@pytest.mark.parametrize("width", [480, 1400])
def test_production_at_notebook_and_full_width_shows_everything(studio, served, tab, open_studio, width):
    tab.page.set_viewport_size({"width": width, "height": 800})
    order = studio.order("faulty:swatch", prompt="[a,x1,b,x2]", project="kites").wait(30)
    production = open_studio(tab, served, "production")
    row = production.locator(f'.inb-production-order[data-id="{order.id}"]')
    row.wait_for()
    counts = row.locator(".inb-production-counts")
    counts.locator(".inb-status-failed", has_text="2 failed").wait_for(timeout=10_000)
    assert "2 / 4 done" in counts.inner_text()                       # complete of total; failures apart
    assert row.locator(".inb-production-model").is_visible() and row.locator(".inb-chip", has_text="kites").is_visible()
    assert row.get_by_role("button", name="Retry 2 failed", exact=True).is_visible()
    row.locator(".inb-production-orow").click()
    failed = production.locator('.inb-production-gen[data-status="failed"]')
    failed.first.wait_for()
    assert failed.count() == 2
    assert "RuntimeError: provider down" in failed.first.locator(".inb-production-gerror").inner_text()
    assert _clipped(production) == []
    tab.shot(f"production-{width}", production)
    assert not tab.errors, tab.errors


@pytest.mark.parametrize("panel", ["projects", "order", "gallery"])
def test_every_panel_fits_a_notebook_width(studio, served, tab, open_studio, panel):
    """At 480 px nothing runs off the side: no panel scrolls sideways (screenshots to look at)."""
    tab.page.set_viewport_size({"width": 480, "height": 800})
    studio.order("instant:swatch", prompt="a [red,blue] kite", project="kites").wait(30)
    body = open_studio(tab, served, panel)
    tab.page.wait_for_timeout(1500)                                   # the panel's first data
    overflow = body.evaluate("""(el) => [...el.querySelectorAll('*')].filter((n) => {
        const r = n.getBoundingClientRect();
        return r.width > 0 && r.right > window.innerWidth + 1 && getComputedStyle(n).position !== 'fixed'
            && !n.closest('.inb-gallery-grid, .inb-order-table-wrap, [hidden]');
    }).slice(0, 5).map((n) => n.className || n.tagName)""")
    tab.shot(f"{panel}-480", body)
    assert overflow == [], f"{panel} runs off a 480 px view: {overflow}"
    assert not tab.errors, tab.errors


def test_a_refused_orders_note_goes_once_the_prompt_is_fixed(studio, served, tab, open_studio):
    """'Not ordered: see Prompt.' is derived from the last refusal and the preview: fixing the
    prompt removes it (it used to stay)."""
    order = open_studio(tab, served, "order")
    prompt = order.locator("[data-field=prompt] textarea")
    prompt.wait_for()
    prompt.fill("a [red,blue kite")
    order.locator(".inb-order-go").click()
    note = order.locator(".inb-order-note")
    note.locator(".inb-order-note-err", has_text="Not ordered").wait_for(timeout=15_000)
    prompt.fill("a [red,blue] kite")
    order.locator(".inb-order-count", has_text="2 generations").wait_for(timeout=15_000)
    note.locator(".inb-order-note-err").wait_for(state="detached", timeout=5_000)
    assert not order.locator("[data-field=prompt] .inb-field-error").count()
    assert not tab.errors, tab.errors
