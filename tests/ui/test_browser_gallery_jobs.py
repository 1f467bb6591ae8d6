"""The Gallery's scores, lineage, Upscale and Train LoRA… in Chromium (issues 15, 16, 17):
sort by a score and filter by the lowest one, the scores and the "refined from" chain in the
details view (a round's thumbnail opens its product), Upscale from the details view and for a
selection (an error shown at its place), and the Train LoRA dialog (an error at its field, the
captions preview with each image's training size, the aspect and text-encoder options, the start
and the pointer to Production), at 1400 and 480 px."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

SMALL_REFINE = {"judge_params": {"max_new_tokens": 6}, "rewriter_params": {"max_new_tokens": 6}}


def _tile_ids(gallery) -> list[str]:
    return gallery.locator(".inb-gallery-tile").evaluate_all("(ts) => ts.map((t) => t.dataset.id)")


def _select(gallery, n: int) -> None:
    tiles = gallery.locator(".inb-gallery-tile")
    tiles.nth(n - 1).wait_for()
    for i in range(n):
        tiles.nth(i).hover()
        tiles.nth(i).locator(".inb-gallery-check").click()


def test_sort_by_a_score_filter_by_the_lowest_and_follow_the_refinement_chain(studio, served, tab, open_studio):
    ref = studio.refine(["a red fox in snow"], "instant:swatch", iterations=2, n=1, scorer="clip:tiny-clip",
                        **SMALL_REFINE).wait(300)
    first, second = ref.summary.sort_values("round").product_id.tolist()
    plain = [p.id for p in studio.order("instant:swatch", prompt="a [red,blue] kite", seed=[1, 2]).wait(30).products]
    studio.score(plain, "clip:tiny-clip")
    frame = studio.gallery(limit=50, scored=True)
    ranked = frame.sort_values("clip_score", ascending=False).product_id.tolist()

    gallery = open_studio(tab, served, "gallery")
    gallery.locator(".inb-gallery-tile").first.wait_for()
    gallery.get_by_label("Sort").select_option("clip_score")
    status = gallery.locator(".inb-gallery-status")
    tab.page.wait_for_function("(el) => el.textContent.startsWith('Highest CLIP score first')", arg=status.element_handle(),
                               timeout=10_000)
    tab.page.wait_for_function("([g, id]) => g.querySelector('.inb-gallery-tile')?.dataset.id === id",
                               arg=[gallery.element_handle(), ranked[0]], timeout=10_000)
    assert _tile_ids(gallery)[:len(ranked)] == ranked
    assert gallery.locator(".inb-gallery-score").count() >= len(ranked)
    tab.shot("sorted", gallery)

    # The lowest CLIP score: only the products at or above it stay.
    floor = float(frame.clip_score.median())
    box = gallery.get_by_label("Lowest score")
    box.fill(f"{floor}")
    box.press("Enter")
    want = sorted(frame[frame.clip_score >= floor].product_id)
    tab.page.wait_for_function("([g, n]) => g.querySelectorAll('.inb-gallery-tile').length === n",
                               arg=[gallery.element_handle(), len(want)], timeout=10_000)
    assert sorted(_tile_ids(gallery)) == want
    gallery.get_by_role("button", name="Clear filters").first.click()

    # The second round's product: its scores, and the chain back to the first round.
    tab.page.wait_for_function("([g, id]) => !!g.querySelector(`.inb-gallery-tile[data-id='${id}']`)",
                               arg=[gallery.element_handle(), second], timeout=10_000)
    gallery.locator(f'.inb-gallery-tile[data-id="{second}"]').click()
    details = tab.page.locator('[aria-label="Product details"]')
    lineage = details.locator('[aria-label="Lineage"]')
    lineage.wait_for(timeout=10_000)
    assert "Refined from round 1" in lineage.inner_text()
    assert lineage.locator("li").count() == 2
    assert "this product" in lineage.locator('li[data-round="2"]').inner_text()
    assert "Judge:" in lineage.locator('li[data-round="1"]').inner_text()
    assert details.locator('[data-score="clip_score"]').count() == 1
    lineage.locator('li[data-round="1"] img').wait_for()
    tab.shot("lineage", details)
    lineage.locator(f'li[data-round="1"] button[data-id="{first}"]').click()
    tab.page.wait_for_function("(el) => el.querySelector('li[data-round=\"1\"]')?.textContent.includes('this product')",
                               arg=details.locator('[aria-label="Lineage"]').element_handle(), timeout=10_000)
    assert "Refined into 1 more round" in details.locator('[aria-label="Lineage"]').inner_text()
    assert not tab.errors, tab.errors


def test_upscale_from_the_details_view_and_for_a_selection(studio, served, tab, open_studio):
    made = studio.order("instant:swatch", prompt="a [red,blue,green] kite", seed=3).wait(30).products
    gallery = open_studio(tab, served, "gallery")
    gallery.locator(".inb-gallery-tile").first.click()
    details = tab.page.locator('[aria-label="Product details"]')
    details.get_by_role("button", name="⤢ Upscale…").click()
    model = details.get_by_label("Upscale model")
    model.wait_for()
    model.select_option("diffusers:tiny-esrgan")
    details.get_by_label("Scale", exact=True).select_option("2")
    shown = details.locator(".inb-gallery-modal-title").inner_text()
    target = next(p for p in made if p.prompt == shown)
    tab.shot("upscale-form", details)
    details.get_by_role("button", name="Upscale", exact=True).click()
    tab.page.locator(".inb-toast", has_text="Ordered an upscale ×2 with diffusers:tiny-esrgan").wait_for(timeout=20_000)
    studio.wait_idle(120)
    up = studio.gallery(limit=10, model="diffusers:tiny-esrgan")
    assert len(up) == 1 and int(up.width.iloc[0]) == target.width * 2

    # A product deleted meanwhile: the error shows in the form, nothing is ordered.
    assert details.get_by_label("Upscale model").count() == 0     # the form closed once ordered
    details.get_by_role("button", name="⤢ Upscale…").click()
    studio.delete([target.id])
    details.get_by_role("button", name="Upscale", exact=True).click()
    error = details.locator('[data-field="upscale"] .inb-field-error')
    error.wait_for(timeout=10_000)
    assert "deleted" in error.inner_text()
    details.press("Escape")
    details.wait_for(state="detached")

    # Bulk: select two, Upscale…, the dialog orders one generation per product.
    studio.delete([target.id], undo=True)
    _select(gallery, 2)
    gallery.get_by_role("button", name="⤢ Upscale…").click()
    dialog = tab.page.locator('[aria-label="Upscale"]')
    dialog.get_by_label("Upscale model").select_option("diffusers:tiny-esrgan")
    dialog.get_by_label("Scale", exact=True).select_option("1.5")
    dialog.get_by_role("button", name="Upscale 2 products").click()
    tab.page.locator(".inb-toast", has_text="Ordered 2 upscales ×1.5").wait_for(timeout=20_000)
    dialog.wait_for(state="detached")
    studio.wait_idle(120)
    assert len(studio.gallery(limit=10, model="diffusers:tiny-esrgan")) == 3
    assert not tab.errors, tab.errors


@pytest.mark.parametrize("width", [1400, 480])
def test_train_lora_dialog_checks_previews_and_starts_a_run(studio, served, tab, open_studio, width):
    tab.page.set_viewport_size({"width": width, "height": 900})
    order = studio.order("diffusers:tiny", prompt="a [red,blue] cat", seed=7, num_inference_steps=2,
                         width=128, height=64).wait(300)
    gallery = open_studio(tab, served, "gallery")
    _select(gallery, 2)
    gallery.get_by_role("button", name="Train LoRA…").click()
    dialog = tab.page.locator('[aria-label="Train LoRA"]')
    dialog.get_by_label("Base model").wait_for()
    tab.page.wait_for_function("(el) => el.value === 'diffusers:tiny'", arg=dialog.get_by_label("Base model").element_handle(),
                               timeout=20_000)
    assert dialog.get_by_label("Rank").input_value() == "4"
    assert dialog.get_by_label("Resolution", exact=True).get_attribute("placeholder") == "64"     # the base model's own size
    # An error comes back at its field.
    dialog.get_by_label("LoRA name").fill("9 lives")
    dialog.get_by_role("button", name="Check captions").click()
    error = dialog.locator('[data-field="train_name"] .inb-field-error')
    error.wait_for(timeout=60_000)
    assert "name" in error.inner_text().lower()
    dialog.get_by_label("LoRA name").fill("cats-style")
    dialog.get_by_label("Steps").fill("3")
    dialog.get_by_label("Captions from").fill("negative_prompt")
    dialog.get_by_role("button", name="Check captions").click()
    dialog.locator('[data-field="train_captions"] .inb-field-error').wait_for(timeout=60_000)
    # From the prompts, cropped to 128²: the preview lists each image's caption and the size it trains at.
    dialog.get_by_label("Captions from").fill("prompt")
    dialog.get_by_label("Resolution", exact=True).fill("128")
    crop = dialog.get_by_role("radio", name="Crop to square")
    bucket = dialog.get_by_role("radio", name="Buckets by aspect ratio")
    assert crop.is_checked() and not bucket.is_checked()
    assert "centre square" in dialog.locator(".inb-gallery-train-choice", has=tab.page.get_by_role("radio", name="Crop to square")).inner_text()
    assert "nearest its shape" in dialog.locator(".inb-gallery-train-choice", has=tab.page.get_by_role("radio", name="Buckets by aspect ratio")).inner_text()
    dialog.get_by_role("button", name="Check captions").click()
    preview = dialog.locator('[aria-label="Captions preview"]')
    preview.wait_for(timeout=60_000)
    assert "2 images · captions from prompt · cropped to 128×128" in preview.inner_text()
    assert {"a red cat", "a blue cat"} <= set(preview.locator("td").all_inner_texts())
    assert preview.locator(".inb-gallery-train-size").all_inner_texts() == ["128×64 → 128×128"] * 2
    # Buckets: the preview checks again by itself and shows the 192×64 bucket.
    bucket.check()
    preview.get_by_text("buckets: 192×64 ×2").wait_for(timeout=60_000)
    assert preview.locator(".inb-gallery-train-size").all_inner_texts() == ["128×64 → 192×64"] * 2
    # The text encoder's rate shows only while its box is ticked; a bad one comes back at its field.
    rate = dialog.get_by_label("Text encoder learning rate")
    assert rate.count() == 0
    dialog.get_by_label("Also train the text encoder").check()
    rate.fill("2")
    dialog.get_by_role("button", name="Start training").click()
    rate_error = dialog.locator('[data-field="train_text_encoder_learning_rate"] .inb-field-error')
    rate_error.wait_for(timeout=60_000)
    assert "at most 1" in rate_error.inner_text()
    assert studio.training_runs().empty
    tab.shot(f"train-dialog-{width}", dialog)
    overflow = dialog.evaluate("""(box) => { const b = box.getBoundingClientRect();
        return [...box.querySelectorAll('*')].filter((n) => { const r = n.getBoundingClientRect();
          return r.width > 0 && (r.right > b.right + 1 || r.left < b.left - 1); }).slice(0, 5).map((n) => n.className || n.tagName); }""")
    assert overflow == [], f"the dialog's content runs off its side at {width} px: {overflow}"
    rate.fill("5e-5")
    dialog.get_by_role("button", name="Start training").click()
    toast = tab.page.locator(".inb-toast", has_text="Training LoRA “cats-style”: 2 images, 3 steps")
    toast.wait_for(timeout=60_000)
    dialog.wait_for(state="detached")
    run = studio.training_run("cats-style")
    assert sorted(run.dataset.product_id) == sorted(p.id for p in order.products)
    config = run.config                                      # what the catalog recorded for the run
    assert config["aspect"] == "bucket" and config["resolution"] == 128 and config["train_text_encoder"] is True
    assert config["text_encoder_learning_rate"] == pytest.approx(5e-5)
    assert list(zip(run.dataset.target_width, run.dataset.target_height)) == [(192, 64)] * 2
    toast.get_by_role("button", name="Open Production").click()
    tab.page.locator('.inb-tabbody[data-panel="production"]').wait_for(state="visible")
    assert run.wait(timeout=300) and run.status == "completed", run.record()["error_message"]
    assert not tab.errors, tab.errors
