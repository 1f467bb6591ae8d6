"""Each panel clicked in headless Chromium (the Panel app, in this process over the test's studio)."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.browser


def test_projects_create_rename_archive_by_clicking(studio, served, tab, open_studio):
    studio.project("Book covers", description="Moody covers")
    projects = open_studio(tab, served, "projects")
    projects.locator(".inb-projects-card", has_text="Book covers").wait_for()

    projects.get_by_role("button", name="+ New project").click()
    projects.get_by_label("Project name").fill("Book covers")            # taken: error at the field
    projects.get_by_role("button", name="Create project").click()
    projects.locator(".inb-field-error").wait_for()
    assert "exists" in projects.locator(".inb-field-error").inner_text()

    projects.get_by_label("Project name").fill("Card deck")
    projects.locator(".inb-field-error").wait_for(state="detached")   # fixed: the error goes
    projects.get_by_label("Project description").first.fill("54 cards")
    projects.get_by_role("button", name="Create project").click()
    projects.locator(".inb-projects-card", has_text="Card deck").wait_for()
    tab.shot("projects", projects)
    assert studio.project("Card deck", create=False).description == "54 cards"

    # Rename from the card's menu; archive, then undo from the toast.
    card = projects.locator(".inb-projects-card", has_text="Card deck")
    card.get_by_role("button", name="More actions for Card deck").click()
    projects.get_by_role("menuitem", name="Rename").click()
    projects.get_by_label("New project name").fill("Card decks")
    projects.get_by_label("New project name").press("Enter")
    projects.locator(".inb-projects-name", has_text="Card decks").wait_for()
    card = projects.locator(".inb-projects-card", has_text="Card decks")
    card.get_by_role("button", name="More actions for Card decks").click()
    projects.get_by_role("menuitem", name="Archive").click()
    card.wait_for(state="detached")
    assert studio.project("Card decks", create=False).status == "archived"
    tab.page.locator(".inb-toast", has_text="archived").get_by_role("button", name="Undo").click()
    projects.locator(".inb-projects-card", has_text="Card decks").wait_for()
    assert studio.project("Card decks", create=False).status == "active"

    # "New order" on a card opens the Order panel with the project chosen.
    projects.locator(".inb-projects-card", has_text="Card decks").get_by_role("button", name="New order").click()
    order = tab.page.locator('.inb-tabbody[data-panel="order"]')
    order.wait_for(state="visible")
    project_select = order.locator('[data-field="project"] select, select[aria-label="Project"]').first
    tab.page.wait_for_function("(el) => el.selectedOptions[0] && el.selectedOptions[0].text.includes('Card decks')",
                               arg=project_select.element_handle())
    assert not tab.errors, tab.errors


def test_production_shows_progress_and_cancels_by_clicking(studio, served, tab, open_studio):
    order = studio.order("instant:swatch", prompt="slow [1..40]", num_inference_steps=20, step_seconds=0.05)
    production = open_studio(tab, served, "production")
    row = production.locator(f'.inb-production-order[data-id="{order.id}"]')
    row.wait_for()
    # Live: the counts move while we watch, and the tab shows a badge of active generations.
    first = row.locator(".inb-production-counts").inner_text()
    tab.page.wait_for_function(
        "([el, before]) => el.innerText !== before", arg=[row.locator(".inb-production-counts").element_handle(), first],
        timeout=15_000)
    assert tab.page.locator(".inb-tab-badge").is_visible()
    row.locator(".inb-production-orow").click()                      # expand: generations with progress
    production.locator(".inb-production-gen").first.wait_for()
    tab.shot("production", production)
    # Cancel one generation (the last one, still queued), then the whole order.
    last = production.locator(".inb-production-gen").last
    gen_id = last.get_attribute("data-id")
    last.get_by_role("button", name="Cancel", exact=True).click()
    last.locator(".inb-production-gstate", has_text="cancelled").wait_for(timeout=10_000)
    assert studio.sql("select status from generations where id = ?", [gen_id])["status"][0] == "cancelled"
    row.locator(".inb-production-orow").get_by_role("button", name="Cancel", exact=True).click()
    order.wait(timeout=30)
    assert order.status == "cancelled"
    row.locator(".inb-production-state", has_text="cancelled").wait_for(timeout=10_000)
    assert not tab.errors, tab.errors


def test_gallery_search_select_delete_and_undo_by_clicking(studio, served, tab, open_studio):
    studio.order("instant:swatch", prompt="a [red,blue,green] kite", seed="[1,2]").wait()
    studio.order("instant:swatch", prompt="a lighthouse", seed="[1..3]").wait()
    gallery = open_studio(tab, served, "gallery")
    tiles = gallery.locator(".inb-gallery-tile")
    tiles.nth(8).wait_for()
    assert tiles.count() == 9

    gallery.get_by_label("Search prompts").fill("kite")
    try:
        tab.page.wait_for_function("(el) => el.querySelectorAll('.inb-gallery-tile').length === 6",
                                   arg=gallery.element_handle(), timeout=15_000)
    except Exception:
        tab.shot("gallery-search-failed")
        print("TILES", tiles.count(), tab.errors)
        raise
    assert all("kite" in (t.get_attribute("title") or "") for t in tiles.all())

    # Select two tiles with their checkboxes, delete them from the bulk bar, then undo.
    for i in (0, 1):
        tiles.nth(i).hover()
        tiles.nth(i).locator(".inb-gallery-check").click()
    chosen = [tiles.nth(i).get_attribute("data-id") for i in (0, 1)]
    tab.shot("gallery-selected", gallery)
    gallery.locator(".inb-gallery-selbar").get_by_role("button", name="Delete", exact=True).click()
    tab.page.wait_for_function("(el) => el.querySelectorAll('.inb-gallery-tile').length === 4",
                               arg=gallery.element_handle())
    deleted = studio.sql("select id from products where deleted_at is not null")["id"].tolist()
    assert sorted(deleted) == sorted(chosen)
    tab.page.locator(".inb-toast").get_by_role("button", name="Undo").click()
    tab.page.wait_for_function("(el) => el.querySelectorAll('.inb-gallery-tile').length === 6",
                               arg=gallery.element_handle())
    # Keyboard focus comes back to a restored tile (Undo's button left with its toast).
    tab.page.wait_for_function(
        "([el, ids]) => { const a = el.getRootNode().activeElement; return !!a && ids.includes(a.dataset.id); }",
        arg=[gallery.element_handle(), chosen], timeout=5_000)
    assert studio.sql("select count(*) as n from products where deleted_at is not null")["n"][0] == 0
    assert not tab.errors, tab.errors


def test_gallery_fetches_one_page_then_more_as_you_scroll(studio, served, tab, open_studio):
    studio.order("instant:swatch", prompt="tile [1..150]", width=64, height=64).wait()
    gallery = open_studio(tab, served, "gallery")
    tiles = gallery.locator(".inb-gallery-tile")
    tiles.nth(59).wait_for()
    tab.page.wait_for_timeout(500)
    assert tiles.count() == 60                      # the first page fills the view: no second fetch yet
    body = gallery.locator(".inb-gallery-body")
    for _ in range(2):
        body.evaluate("(el) => el.scrollTo(0, el.scrollHeight)")
        tab.page.wait_for_timeout(400)
    tiles.nth(149).wait_for(timeout=10_000)        # scrolling to the end brings the rest
    assert tiles.count() == 150
    assert "All 150 shown" in gallery.locator(".inb-gallery-foot").inner_text()


def _wait_value(tab, locator, value, timeout=10.0):
    # The form is redrawn for the product's model: poll the locator, not one element.
    deadline = time.monotonic() + timeout
    while locator.input_value() != value and time.monotonic() < deadline:
        tab.page.wait_for_timeout(100)
    assert locator.input_value() == value


def test_reorder_from_gallery_details_fills_the_order_form(studio, served, tab, open_studio):
    studio.order("instant:swatch", prompt="a [red,blue] kite", seed="[7,8]", width=48).wait()
    gallery = open_studio(tab, served, "gallery")
    first = gallery.locator(".inb-gallery-tile").first
    shown_prompt = first.get_attribute("title") or ""
    first.click()
    details = tab.page.locator('[aria-label="Product details"]')
    details.get_by_role("button", name="Re-order").click()
    order = tab.page.locator('.inb-tabbody[data-panel="order"]')
    order.wait_for(state="visible")
    prompt = order.locator("[data-field=prompt] textarea")
    # Re-order = that product's own parameter set: one generation, its seed.
    product = studio.product(first.get_attribute("data-id"))
    _wait_value(tab, prompt, product.prompt)
    assert product.prompt in shown_prompt
    assert order.locator("[data-field=seed] input").input_value() == str(product.seed)
    assert order.locator("[data-field=width] input").input_value() == "48"
    order.locator(".inb-order-count", has_text="1 generation").wait_for(timeout=10_000)
    # The whole order is the second choice.
    order.get_by_role("button", name="Whole order instead").click()
    _wait_value(tab, prompt, "a [red,blue] kite")
    assert order.locator("[data-field=seed] input").input_value() == "[7,8]"
    order.locator(".inb-order-count", has_text="4 generations").wait_for(timeout=10_000)
    # "Use seed" from another product's details keeps the prompt as typed.
    prompt.fill("a green kite")
    tab.page.locator('.inb-tab[data-tab="gallery"]').click()
    gallery.locator(".inb-gallery-tile").nth(1).click()
    other = studio.product(gallery.locator(".inb-gallery-tile").nth(1).get_attribute("data-id"))
    details.get_by_role("button", name="Use seed").click()
    _wait_value(tab, order.locator("[data-field=seed] input"), str(other.seed))
    assert prompt.input_value() == "a green kite"
    tab.shot("reorder", order)
    assert not tab.errors, tab.errors


def test_production_says_when_a_full_disk_paused_the_queue(studio, served, tab, open_studio, monkeypatch):
    """The QueuePaused message shows above the orders while the disk is full and goes when space is back."""
    import errno
    import warnings

    free = {"bytes": 0}
    monkeypatch.setattr(studio.space, "free", lambda: free["bytes"])  # a disk that stays full on cue
    studio.space.interval = 0
    production = open_studio(tab, served, "production")
    notice = production.locator(".inb-production-notice")
    production.locator(".inb-production-summary").wait_for()
    assert notice.is_hidden()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        studio.space.pause(OSError(errno.ENOSPC, "No space left on device"), "a product")
    notice.wait_for(state="visible", timeout=10_000)
    text = notice.inner_text()
    assert text.startswith("Paused.") and "is full" in text and "resumes by itself" in text
    tab.shot("production-paused", production)
    free["bytes"] = 10 * 2**30
    assert studio.space.poll()
    notice.wait_for(state="hidden", timeout=10_000)
    assert not tab.errors, tab.errors


def test_production_shows_a_refinement_as_one_row_with_its_rounds(studio, served, tab, open_studio):
    """A refinement: one row, a line per prompt with a cell per round, updated live, cancellable."""
    done = studio.refine(["a red fox", "a calm sea"], "instant:swatch", iterations=2, scorer="clip:tiny-clip",
                         judge_params={"max_new_tokens": 4}, rewriter_params={"max_new_tokens": 4}).wait(300)
    production = open_studio(tab, served, "production")
    row = production.locator(f'.inb-refine[data-id="{done.id}"]')
    row.wait_for(timeout=20_000)
    assert row.locator(".inb-production-state").inner_text().strip() == "refined"
    assert row.locator(".inb-refine-item").count() == 2
    assert row.locator(".inb-refine-item").first.locator(".inb-refine-round").count() == 2
    assert "4 / 4 rounds" in row.locator(".inb-production-counts").inner_text()
    assert row.locator(".inb-refine-best").count() == 2  # each prompt's best round stands out
    slow = studio.refine("a kite", "instant:swatch", iterations=3, scorer="clip:tiny-clip",
                         num_inference_steps=400, step_seconds=0.05, judge_params={"max_new_tokens": 4})
    live = production.locator(f'.inb-refine[data-id="{slow.id}"]')
    live.wait_for(timeout=20_000)                                     # arrived as a push, no reload
    tab.shot("production-refinements", production)
    live.get_by_role("button", name="Cancel").click()
    live.locator(".inb-production-state", has_text="cancelled").wait_for(timeout=20_000)
    assert slow.status == "cancelled"
    assert not tab.errors, tab.errors
