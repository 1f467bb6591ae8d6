"""The Order panel's "Get from civitai…" (issue 17) in headless Chromium, against the loopback
civitai server: from the model picker, search, check what a result would download, a bad
reference shown at its field, import with progress, the LoRA in the LoRA picker at once; without
a token the dialog says how to set one before anything is tried. Also the capability filter."""

from __future__ import annotations

import pytest
from civitai_server import ServerFile

import imagen_nb as inb

pytestmark = pytest.mark.browser


@pytest.fixture
def token(monkeypatch, civitai):
    monkeypatch.setenv("CIVITAI_API_TOKEN", civitai.token)


@pytest.fixture
def studio(home, civitai):
    s = inb.Studio()
    yield s
    s.close()


def _open_civitai(tab, served, open_studio):
    order = open_studio(tab, served, "order")
    order.locator(".inb-order-count").wait_for(timeout=30_000)
    order.locator("input[aria-label=Model]").press("ArrowDown")        # the model list opens
    order.locator(".inb-order-model-civitai", has_text="Get from civitai…").click()
    dialog = order.get_by_role("dialog", name="Get from civitai")
    dialog.wait_for(timeout=15_000)
    return order, dialog


@pytest.mark.usefixtures("token")
def test_search_check_and_import_a_lora_into_the_picker(studio, served, tab, open_studio, home):
    order, dialog = _open_civitai(tab, served, open_studio)
    assert dialog.locator(".inb-civitai-key").count() == 0          # the token is set
    dialog.get_by_label("Search civitai").fill("tarot")
    dialog.get_by_label("Base model").select_option("SD 1.5")
    dialog.get_by_role("button", name="Search").click()
    result = dialog.locator(".inb-civitai-result", has_text="Tarot cards")
    result.wait_for(timeout=30_000)
    assert dialog.locator(".inb-civitai-result").count() == 1       # the SDXL one is filtered out

    ref = dialog.locator("#inb-civitai-ref")
    ref.fill("urn:air:sdxl:lora:civitai:328553@368189")              # the wrong ecosystem
    dialog.get_by_role("button", name="Check").click()
    dialog.locator("[data-field=civitai_ref] .inb-field-error", has_text="SD 1.5").wait_for(timeout=30_000)

    result.click()
    info = dialog.locator(".inb-civitai-info")
    info.wait_for(timeout=30_000)
    assert "tarotCards_v10.safetensors · 976.6 KB" in info.inner_text()
    assert "tarot card" in info.inner_text()
    dialog.locator("[data-field=civitai_ref] .inb-field-error").wait_for(state="detached", timeout=5_000)
    dialog.locator("#inb-civitai-for").select_option("diffusers:tiny")
    tab.shot("civitai", dialog)
    dialog.get_by_role("button", name="Import").click()
    row = dialog.locator(".inb-civitai-import-row", has_text="tarotCards_v10")
    row.locator(".inb-civitai-import-line", has_text="in: tarotCards_v10 (LoRA)").wait_for(timeout=60_000)
    assert (home / "loras" / "tarotCards_v10.safetensors").stat().st_size == 1_000_000
    order.locator(".inb-order-note", has_text="LoRA tarotCards_v10 is in the LoRA picker").wait_for(timeout=15_000)
    dialog.get_by_role("button", name="Close").click()

    # The LoRA picker of a model that takes LoRAs lists it at once.
    model = order.locator("input[aria-label=Model]")
    card = order.locator(".inb-order-modelcard", has_text="diffusers:tiny")
    # Seen in two full CI runs on two busy cores (and about one run in four here under load, never
    # alone): after Enter the card still showed instant:swatch a minute later, the pick lost; the cause
    # is not found yet (see the issue 17 note). The pick is made again once before the test gives up.
    for attempt in (1, 2):
        model.fill("diffusers:tiny")
        model.press("Enter")
        try:
            card.wait_for(timeout=30_000)
            break
        except Exception:
            if attempt == 2:
                raise
    order.get_by_role("button", name="+ Add LoRA").click()
    order.get_by_label("LoRA", exact=True).locator("option", has_text="tarotCards_v10").wait_for(state="attached", timeout=15_000)
    assert not tab.errors, tab.errors


def test_without_a_token_the_dialog_says_how_to_set_one(studio, served, tab, open_studio, monkeypatch):
    monkeypatch.delenv("CIVITAI_API_TOKEN", raising=False)
    order, dialog = _open_civitai(tab, served, open_studio)
    key = dialog.locator(".inb-civitai-key")
    key.wait_for(timeout=15_000)
    assert "keys set civitai" in key.inner_text()
    dialog.locator("#inb-civitai-ref").fill("civitai:368189")
    dialog.get_by_role("button", name="Check").click()
    dialog.locator(".inb-civitai-info").wait_for(timeout=30_000)     # what it is: shown without a token
    assert dialog.get_by_role("button", name="Import").is_disabled()
    assert "keys set civitai" in dialog.locator(".inb-civitai-foot").inner_text()
    assert not tab.errors, tab.errors


def test_the_capability_filter_narrows_the_model_picker(studio, served, tab, open_studio):
    order = open_studio(tab, served, "order")
    order.locator(".inb-order-count").wait_for(timeout=30_000)
    order.get_by_label("Capability").select_option("upscale")
    order.locator("input[aria-label=Model]").press("ArrowDown")
    order.locator(".inb-order-model-opt").first.wait_for(timeout=15_000)
    names = order.locator(".inb-order-model-opt .inb-order-model-name").all_inner_texts()
    assert names and "tiny-esrgan" in names and "swatch" not in names
    assert all(m in ("tiny-upscaler", "tiny-esrgan") or "upscal" in m or "esrgan" in m.lower() or "clarity" in m
               for m in names), names
    assert not tab.errors, tab.errors


@pytest.mark.usefixtures("token")
def test_cancel_stops_an_import_and_importing_again_resumes_it(studio, served, tab, open_studio, home, civitai):
    data = b"big lora " * 250_000
    civitai.add(990, 9900, name="Big style", files=[ServerFile(9900, "bigStyle.safetensors", data)])
    civitai.fault("GET", r"/files/9900", "slow", server="storage", pace=0.03)
    order, dialog = _open_civitai(tab, served, open_studio)
    dialog.locator("#inb-civitai-ref").fill("civitai:9900")
    dialog.get_by_role("button", name="Check").click()
    dialog.locator(".inb-civitai-info").wait_for(timeout=30_000)
    dialog.get_by_role("button", name="Import").click()
    row = dialog.locator(".inb-civitai-import-row", has_text="bigStyle")
    row.locator(".inb-civitai-import-line", has_text="% of").wait_for(timeout=60_000)   # bytes are arriving
    tab.shot("civitai-cancel", dialog)
    row.get_by_role("button", name="Cancel").click()
    row.locator(".inb-civitai-import-line", has_text="cancelled at").wait_for(timeout=30_000)
    assert "import it again to resume" in row.inner_text()
    assert row.get_by_role("button", name="Cancel").count() == 0 and row.locator("progress").count() == 0
    order.locator(".inb-order-note", has_text="partial file is kept").wait_for(timeout=15_000)
    assert [p.name for p in (home / "loras").iterdir()] == [".bigStyle.safetensors.part"]
    assert studio.civitai.files().empty

    assert dialog.get_by_role("button", name="Import").is_enabled()
    dialog.get_by_role("button", name="Import").click()                   # resumes from the part
    row.locator(".inb-civitai-import-line", has_text="in: bigStyle (LoRA)").wait_for(timeout=60_000)
    assert (home / "loras" / "bigStyle.safetensors").read_bytes() == data
    assert civitai.hits("GET", r"/files/9900", server="storage")[-1].headers["range"].startswith("bytes=")
    assert not tab.errors, tab.errors
