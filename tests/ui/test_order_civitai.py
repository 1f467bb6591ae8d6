"""The Order panel's "Get from civitai…" (issue 17) through the controller, against the loopback
civitai server: the no-token case up front, search, what a reference would download, an import
with progress pushes that ends with the LoRA in the picker, and errors at their field."""

from __future__ import annotations

import pytest
from civitai_server import ServerFile

import imagen_nb as inb
from imagen_nb.ui.order import OrderController


@pytest.fixture
def studio(home, civitai, monkeypatch):
    monkeypatch.setenv("CIVITAI_API_TOKEN", civitai.token)
    s = inb.Studio()
    yield s
    s.close()


@pytest.fixture
def order_page(studio, page):
    return page(OrderController(studio))


def test_search_and_resolve_show_what_an_import_would_download(order_page):
    state = order_page.call("civitai_state")
    assert state["key_missing"] is None and "LORA" in state["types"] and "SD 1.5" in state["base_models"]
    found = order_page.call("civitai_search", query="tarot", type="LORA")
    assert sorted(i["name"] for i in found["items"]) == ["Big XL style", "Tarot cards"]
    found = order_page.call("civitai_search", query="tarot", type="LORA", base_model="SD 1.5")
    assert [i["name"] for i in found["items"]] == ["Tarot cards"]
    item = found["items"][0]
    assert item["air"] == "urn:air:sd1:lora:civitai:328553@368189" and item["trigger_words"] == ["tarot card"]
    info = order_page.call("civitai_resolve", ref=item["air"])
    assert info["kind"] == "lora" and info["file_name"] == "tarotCards_v10.safetensors"
    assert info["size"] == 1_000_000 and info["base_model"] == "SD 1.5" and info["trigger_words"] == ["tarot card"]


def test_an_import_pushes_progress_and_ends_with_the_lora_in_the_picker(order_page, studio, home):
    assert "tarotCards_v10" not in order_page.call("loras", model="diffusers:tiny")
    started = order_page.call("civitai_add", ref="civitai:368189", for_model="diffusers:tiny")
    assert started["imports"][0]["state"] in ("starting", "downloading", "done")

    def finished(p):
        for data in p.pushes("civitai"):
            jobs = [j for j in data["imports"] if j["ref"] == "civitai:368189"]
            if jobs and jobs[0]["state"] in ("done", "failed"):
                return data
        return None

    data = order_page.wait_for(finished, timeout=60)
    job = data["imports"][0]
    assert job["state"] == "done", job
    assert job["result"] == "tarotCards_v10" and job["kind"] == "lora" and job["done"] == job["total"] == 1_000_000
    assert "models" in data                                         # the picker's list comes along
    assert (home / "loras" / "tarotCards_v10.safetensors").stat().st_size == 1_000_000
    assert "tarotCards_v10" in order_page.call("loras", model="diffusers:tiny")
    assert order_page.call("civitai_state")["imports"][0]["state"] == "done"


def test_errors_come_back_at_their_field(order_page, civitai):
    assert order_page.error("civitai_resolve", ref="")["field"] == "civitai_ref"
    err = order_page.error("civitai_resolve", ref="urn:air:sdxl:lora:civitai:328553@368189")
    assert err["field"] == "civitai_ref" and "SD 1.5" in err["message"]
    assert order_page.error("civitai_search", query="x", type="Poses")["field"] == "civitai_type"
    civitai.fault("GET", "/api/v1/models", "status", status=500, times=10)
    err = order_page.error("civitai_search", query="tarot")
    assert err["field"] == "civitai_query" and "search failed" in err["message"]


def test_a_lora_for_another_family_fails_at_the_model_it_is_for(order_page):
    order_page.call("civitai_add", ref="civitai:777", for_model="diffusers:tiny")
    data = order_page.wait_for(lambda p: next((d for d in p.pushes("civitai")
                                               if d["imports"] and d["imports"][0]["state"] == "failed"), None), timeout=60)
    job = data["imports"][0]
    assert job["field"] == "civitai_for_model" and "SDXL" in job["error"]


def test_without_a_token_the_state_says_how_to_set_it_and_import_is_refused(order_page, monkeypatch):
    monkeypatch.delenv("CIVITAI_API_TOKEN")
    state = order_page.call("civitai_state")
    assert state["key_missing"] and "imagen-nb keys set civitai" in state["key_missing"]
    err = order_page.error("civitai_add", ref="civitai:368189")
    assert err["field"] == "civitai_ref" and "keys set civitai" in err["message"]
    # Searching needs no token.
    assert order_page.call("civitai_search", query="tarot")["items"]


def test_cancel_stops_an_import_keeps_the_part_and_importing_again_resumes(order_page, civitai, studio, home):
    data = b"big lora " * 250_000
    civitai.add(990, 9900, name="Big style", files=[ServerFile(9900, "bigStyle.safetensors", data)])
    civitai.fault("GET", r"/files/9900", "slow", server="storage", pace=0.02)

    def state_of(p, wanted):
        for d in reversed(p.pushes("civitai")):
            jobs = [j for j in d["imports"] if j["ref"] == "civitai:9900"]
            if jobs and jobs[0]["state"] in wanted:
                return jobs[0]
        return None

    order_page.call("civitai_add", ref="civitai:9900")
    order_page.wait_for(lambda p: (j := state_of(p, ("downloading",))) and j["done"] > 0, timeout=60)
    assert order_page.call("civitai_cancel", ref="civitai:9900")["ref"] == "civitai:9900"
    job = order_page.wait_for(lambda p: state_of(p, ("cancelled", "done", "failed")), timeout=60)
    assert job["state"] == "cancelled" and "is kept" in job["error"] and 0 < job["done"] < len(data)
    assert [p.name for p in (home / "loras").iterdir()] == [".bigStyle.safetensors.part"]
    assert studio.civitai.files().empty and "bigStyle" not in order_page.call("loras", model="diffusers:tiny")
    assert order_page.error("civitai_cancel", ref="civitai:9900")["field"] == "civitai_ref"  # not running now

    order_page.call("civitai_add", ref="civitai:9900")                   # again: resumed to the end
    job = order_page.wait_for(lambda p: state_of(p, ("done", "failed")), timeout=60)
    assert job["state"] == "done" and job["result"] == "bigStyle"
    assert civitai.hits("GET", r"/files/9900", server="storage")[-1].headers["range"].startswith("bytes=")
    assert (home / "loras" / "bigStyle.safetensors").read_bytes() == data
