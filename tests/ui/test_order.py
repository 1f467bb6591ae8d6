"""The Order panel's messages, against a real Studio and the instant:swatch model."""

from __future__ import annotations

import io

import pytest

import imagen_nb as inb
from imagen_nb.core.capabilities import COLUMNS as CAPABILITIES
from imagen_nb.core.records import ModelInfo
from imagen_nb.ui.order import OrderController, describe_model, params_from_values, values_from_params

SWATCH = "instant:swatch"


@pytest.fixture(autouse=True)
def no_keys(monkeypatch):
    monkeypatch.delenv("FAL_KEY", raising=False)
    monkeypatch.delenv("REPLICATE_API_TOKEN", raising=False)


@pytest.fixture
def order_page(studio, page):
    return page(OrderController(studio))


def png(width=16, height=16, colour=(200, 40, 90)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, format="PNG")
    return buf.getvalue()


def image_of(data: bytes, mime: str) -> tuple[int, int]:
    """The size of real image bytes whose format is ``mime``."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        assert Image.MIME[im.format] == mime
        return im.size


def session_products(p) -> list[tuple[dict, bytes | None]]:
    """Every product pushed to the strip, with its thumbnail's bytes."""
    out = []
    for content, buffers in list(p.messages):
        if content.get("event") == "session":
            for item in content["data"]["products"]:
                out.append((item, buffers[item["thumb"]] if item["thumb"] is not None else None))
    return out


def field(form: dict, name: str) -> dict:
    return next(f for f in form["fields"] if f["name"] == name)


# ---- models and forms -------------------------------------------------------------------------


def test_init_lists_every_model_and_draws_the_default_form(order_page):
    state = order_page.call("init")
    models = {m["id"]: m for m in state["models"]}
    assert {SWATCH, "diffusers:tiny", "fal:fal-ai/fast-sdxl", "replicate:stability-ai/sdxl"} <= set(models)
    # what each model can do comes along, so the picker can filter on it (core/capabilities.py)
    assert set(models[SWATCH]) == {"id", "provider", "type", "family", "description", "key_missing", *CAPABILITIES}
    # Listed even without a key, marked so the picker can say so.
    assert models["fal:fal-ai/fast-sdxl"]["key_missing"] is True
    assert models[SWATCH]["key_missing"] is False
    assert {"instant", "diffusers", "fal", "replicate"} <= set(state["providers"])
    assert "text-to-image" in state["types"]
    assert state["model"] == SWATCH and state["form"]["id"] == SWATCH
    assert state["projects"] == [] and state["presets"] == [] and state["tokens"] == []
    assert state["limit"] == 1000
    assert state["session"] == {"products": [], "orders": []}


def test_the_form_is_drawn_from_the_spec(order_page):
    form = order_page.call("model", model_id=SWATCH)
    assert [f["name"] for f in form["fields"]][:3] == ["prompt", "negative_prompt", "seed"]
    prompt = field(form, "prompt")
    assert prompt["kind"] == "prompt" and prompt["required"] and not prompt["advanced"]
    width = field(form, "width")
    assert width["kind"] == "integer" and width["range"] == "8 – 2048, step 8" and width["default"] == "64"
    assert (width["minimum"], width["maximum"], width["step"]) == (8, 2048, 8)
    assert field(form, "guidance_scale")["kind"] == "number"
    assert field(form, "seed")["range"] == "0 – 4,294,967,295"
    assert field(form, "step_seconds")["advanced"] is True
    assert form["key_missing"] is None

    tiny = order_page.call("model", model_id="diffusers:tiny")
    scheduler = field(tiny, "scheduler")
    assert scheduler["kind"] == "enum" and "Euler a" in scheduler["choices"] and scheduler["default"] == "DPM++ 2M"
    assert field(tiny, "image")["kind"] == "image"
    assert field(tiny, "loras")["kind"] == "json"
    assert field(tiny, "clip_skip")["advanced"] is True
    assert tiny["image_to_image"] is True

    fal = order_page.call("model", model_id="fal:fal-ai/fast-sdxl/image-to-image")
    assert field(fal, "image")["kind"] == "image"          # an x-fal-file input
    assert field(fal, "enable_safety_checker")["choices"] == ["true", "false"]
    assert "imagen-nb keys set fal" in fal["key_missing"]


def test_x_order_content_media_type_and_value_round_trip():
    spec = {"type": "object", "required": ["b"], "properties": {
        "a": {"type": "integer", "x-order": 2, "minimum": 1},
        "b": {"type": "string", "x-order": 0},
        "ref": {"type": "string", "contentMediaType": "image/png", "x-order": 1},
        "flag": {"type": "boolean"},
        "items": {"type": "array", "items": {"type": "string"}},
        "steps": {"enum": [1, 2, 4], "x-order": 9},
    }}
    form = describe_model(ModelInfo("p", "m", "text-to-image", "f", spec))
    assert [f["name"] for f in form["fields"]] == ["b", "ref", "a", "steps", "flag", "items"]
    assert [f["kind"] for f in form["fields"]] == ["text", "image", "integer", "enum", "boolean", "json"]
    assert field(form, "steps")["choices"] == ["1", "2", "4"]
    assert params_from_values(spec, {"steps": "4"}) == {"steps": 4}   # the choice itself, not its text
    assert field(form, "a")["range"] == "≥ 1"
    values = {"a": " 12 ", "b": "x [1,2]", "ref": "", "flag": "false", "items": '["u", "v"]'}
    params = params_from_values(spec, values)
    assert params == {"a": 12, "b": "x [1,2]", "flag": False, "items": ["u", "v"]}
    assert params_from_values(spec, {"a": "[1..3]"}) == {"a": "[1..3]"}  # smart syntax stays text
    assert values_from_params(spec, {"a": 12, "flag": False, "items": ["u"], "b": [1, "a,b"]}) == \
        {"a": "12", "flag": "false", "items": '["u"]', "b": "[1,a\\,b]"}


def test_a_bad_model_id_is_an_error_at_the_model_field(order_page):
    for bad in ("nope:thing", "instant:nope", "swatch"):
        err = order_page.error("model", model_id=bad)
        assert err["field"] == "model", err
    err = order_page.error("order", model="instant:swatchh", values={"prompt": "x"})
    assert err["field"] == "model" and "Did you mean 'swatch'" in err["message"]
    assert order_page.error("preview", model="", values={})["field"] == "model"


# ---- preview ----------------------------------------------------------------------------------


def test_preview_counts_and_shows_the_first_parameter_sets(order_page):
    out = order_page.call("preview", model=SWATCH, values={
        "prompt": "a [red,blue] [cat,dog]", "seed": "[1..3]", "width": "64", "num_images_per_prompt": "2"})
    assert out["count"] == 12 and out["images"] == 24 and out["limit"] == 1000
    assert out["columns"] == ["prompt", "seed"]
    assert len(out["rows"]) == 5
    assert out["rows"][0] == {"prompt": "a red cat", "seed": 1, "width": 64, "num_images_per_prompt": 2}
    assert [r["seed"] for r in out["rows"]] == [1, 2, 3, 1, 2]
    assert out["missing"] == [] and out["too_large"] is None

    blank = order_page.call("preview", model=SWATCH, values={"prompt": "  "})
    assert blank["count"] == 1 and blank["missing"] == ["prompt"]   # quiet: not an error yet
    assert blank["rows"] == [{}]

    big = order_page.call("preview", model=SWATCH, values={"prompt": "x", "seed": "[1..2000]"})
    assert big["count"] == 2000 and "2,000 generations" in big["too_large"] and big["rows"] == []

    remote = order_page.call("preview", model="fal:fal-ai/fast-sdxl", values={"prompt": "a [cat,dog]"})
    assert remote["count"] == 2 and "FAL_KEY" in remote["key_missing"]


def test_preview_errors_name_the_field_and_column(order_page):
    err = order_page.error("preview", model=SWATCH, values={"prompt": "a [red,blue"})
    assert err["type"] == "SmartParameterError" and err["field"] == "prompt" and err["column"] == 3
    err = order_page.error("preview", model=SWATCH, values={"prompt": "x", "seed": "[1,2|3]"})
    assert err["field"] == "seed" and err["column"]
    err = order_page.error("preview", model=SWATCH, values={"prompt": "a [nosuchtoken]"})
    assert err["field"] == "prompt" and "nosuchtoken" in err["message"]
    # Spec checks come back at their field too, even while the prompt is still blank.
    err = order_page.error("preview", model=SWATCH, values={"width": "65"})
    assert err["type"] == "ValidationError" and err["field"] == "width" and "multiple of 8" in err["message"]
    err = order_page.error("preview", model=SWATCH, values={"prompt": "x", "height": "[64,12]"})
    assert err["field"] == "height"


# ---- ordering and the session strip -------------------------------------------------------------


def test_order_places_it_and_the_strip_receives_the_products(studio, order_page):
    values = {"prompt": "a [red,blue] kite [a|b|c]", "seed": "[1,2]", "width": "32", "height": "32"}
    preview = order_page.call("preview", model=SWATCH, values=values)
    placed = order_page.call("order", model=SWATCH, values=values)
    assert placed["count"] == 4 and placed["model"] == SWATCH
    orders = studio.orders()
    assert list(orders["id"]) == [placed["order_id"]] and orders.iloc[0]["generation_count"] == 4
    order = studio.get_order(placed["order_id"])
    assert order.base_params == {"prompt": "a [red,blue] kite [a|b|c]", "seed": "[1,2]", "width": 32, "height": 32}
    # The random picks ordered are the ones the preview showed.
    assert [g["prompt"] for g in order.generations["params"]] == [r["prompt"] for r in preview["rows"]]

    order.wait(30)
    strip = order_page.wait_for(lambda p: len(session_products(p)) == 4 and session_products(p))
    assert {item["order_id"] for item, _ in strip} == {placed["order_id"]}
    for item, thumb in strip:
        assert image_of(thumb, item["mime"]) == (32, 32)   # a real picture (small ones are their own thumbnail)
        assert item["width"] == 32 and item["prompt"].startswith("a ")
    final = order_page.wait_for(lambda p: [o for d in p.pushes("session") for o in d["orders"]
                                           if o["status"] == "fulfilled"])
    assert final[-1]["complete"] == 4 and final[-1]["count"] == 4

    # The large view: the full image and its parameters.
    product, bufs = order_page.call_with_buffers("product", product_id=strip[0][0]["id"])
    assert bufs[product["image"]][:8] == b"\x89PNG\r\n\x1a\n" and product["mime"] == "image/png"
    assert product["params"]["width"] == 32 and product["params"]["prompt"].startswith("a ")

    # Orders placed elsewhere do not appear in this panel's strip.
    studio.order(SWATCH, prompt="elsewhere").wait(30)
    assert all(item["order_id"] == placed["order_id"] for item, _ in session_products(order_page))

    # A view opened later gets the session back, newest first.
    again, bufs = order_page.call_with_buffers("init")
    replay = again["session"]["products"]
    assert len(replay) == 4 and all(image_of(bufs[i["thumb"]], i["mime"]) for i in replay)
    assert again["session"]["orders"][0]["order_id"] == placed["order_id"]
    assert again["model"] == SWATCH


def test_a_retried_orders_footer_runs_again_with_counts_that_add_up(studio, order_page):
    values = {"prompt": "slow [1..6]", "num_inference_steps": "20", "step_seconds": "0.05"}
    placed = order_page.call("order", model=SWATCH, values=values)
    studio.cancel(placed["order_id"])
    studio.get_order(placed["order_id"]).wait(30)

    def last(p):
        states = [o for d in p.pushes("session") for o in d["orders"] if o["order_id"] == placed["order_id"]]
        return states[-1] if states else None

    order_page.wait_for(lambda p: (last(p) or {}).get("status") == "cancelled")
    studio.retry(placed["order_id"])
    running = order_page.wait_for(lambda p: (last(p) or {}).get("status") in ("queued", "running") and last(p))
    assert running["status"] != "cancelled"
    final = order_page.wait_for(lambda p: (last(p) or {}).get("status") == "fulfilled" and last(p))
    assert (final["complete"], final["failed"], final["cancelled"]) == (6, 0, 0)   # adds up to the count
    studio.wait_idle(30)


def test_order_errors_come_back_at_the_field(order_page, studio):
    err = order_page.error("order", model=SWATCH, values={"width": "64"})
    assert err["field"] == "prompt"
    err = order_page.error("order", model="fal:fal-ai/fast-sdxl", values={"prompt": "a cat"})
    assert err["field"] == "model" and "imagen-nb keys set fal" in err["message"]
    err = order_page.error("order", model=SWATCH, values={"prompt": "a [cat"})
    assert err["field"] == "prompt" and err["column"] == 3
    err = order_page.error("order", model=SWATCH, values={"prompt": "x"}, project_id="01nosuchproject")
    assert err["field"] == "project"
    assert studio.orders().empty


def test_projects_are_listed_created_and_ordered_into(order_page, studio):
    made = order_page.call("create_project", name=" cats ")
    assert made["name"] == "cats" and made["projects"] == [{"id": made["id"], "name": "cats"}]
    assert order_page.call("create_project", name="cats")["id"] == made["id"]   # taken, not duplicated
    assert order_page.error("create_project", name="")["field"] == "project"
    placed = order_page.call("order", model=SWATCH, values={"prompt": "x"}, project_id=made["id"])
    assert placed["project_id"] == made["id"]
    assert studio.orders().iloc[0]["project"] == "cats"
    assert order_page.call("projects") == [{"id": made["id"], "name": "cats"}]
    studio.wait_idle(30)


def test_reorder_prefills_the_form_from_a_product(order_page, studio):
    project = studio.project("kites")
    order = studio.order(SWATCH, project=project, prompt="a [red,blue] kite", seed=[1, 2], width=32,
                         height=32).wait(30)
    product = order.products[1]
    # Default: that product's own generation parameter set, one generation with its seed.
    out = order_page.call("reorder", product_id=product.id)
    assert out["model"] == SWATCH and out["form"]["id"] == SWATCH and out["scope"] == "product"
    assert out["values"]["prompt"] == "a red kite" and out["values"]["seed"] == "2"
    assert out["values"]["width"] == "32" and out["unmapped"] == [] and out["imported"] is False
    assert out["project_id"] == project.id
    again = order_page.call("order", model=out["model"], values=out["values"], project_id=out["project_id"])
    assert again["count"] == 1
    # The whole order is the second choice: the same expansion again.
    out = order_page.call("reorder", product_id=product.id, scope="order")
    assert out["values"] == {"prompt": "a [red,blue] kite", "seed": "[1,2]", "width": "32", "height": "32"}
    assert order_page.call("order", model=out["model"], values=out["values"])["count"] == 4
    # use seed / use prompt: only those fields (the page keeps the rest of its form).
    assert order_page.call("reorder", product_id=product.id, use="seed")["values"] == {"seed": "2"}
    assert order_page.call("reorder", product_id=product.id, use="prompt")["values"] == {"prompt": "a red kite",
                                                                                   "negative_prompt": ""}
    assert order_page.error("reorder", product_id=product.id, use="everything")["field"] == "use"
    # An imported product without a model and no model chosen: no form, no error.
    imported = studio.import_products([_write(studio, png())])[0]
    out = order_page.call("reorder", product_id=imported.id)
    assert out["model"] is None and out["form"] is None
    assert order_page.error("reorder", product_id="01nosuchproduct")["field"] == "product"
    studio.wait_idle(30)


def test_reorder_of_an_a1111_import_maps_onto_the_chosen_model_and_names_what_it_cannot(order_page, studio):
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("parameters", "a lighthouse at dusk, oil painting\nNegative prompt: blurry\n"
                  "Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 6.5, Seed: 1234, Size: 64x72, "
                  "Model hash: abc123, Model: sd_xl_base_1.0, Clip skip: 2")
    buf = io.BytesIO()
    Image.new("RGB", (64, 72), "teal").save(buf, format="PNG", pnginfo=info)
    product = studio.import_products([_write(studio, buf.getvalue())])[0]
    out = order_page.call("reorder", product_id=product.id, model="diffusers:tiny")
    assert out["model"] == "diffusers:tiny" and out["form"]["id"] == "diffusers:tiny" and out["imported"]
    values = out["values"]
    assert values["prompt"] == "a lighthouse at dusk, oil painting" and values["negative_prompt"] == "blurry"
    assert values["num_inference_steps"] == "30" and values["guidance_scale"] == "6.5"
    assert values["seed"] == "1234" and values["width"] == "64" and values["height"] == "72"
    unmapped = {u["name"]: u["why"] for u in out["unmapped"]}
    assert "sd_xl_base_1.0" in unmapped["model"] and "model ids look like" not in str(out)
    assert values["scheduler"] == "DPM++ 2M Karras"             # the sampler, where the model has it
    assert values["clip_skip"] == "2" and set(unmapped) == {"model", "model_hash"}
    # The mapped values order as they are.
    assert order_page.call("preview", model=out["model"], values=values)["count"] == 1


def _write(studio, data: bytes):
    path = studio.home / "in.png"
    path.write_bytes(data)
    return path


# ---- presets and tokens -------------------------------------------------------------------------


def test_presets_save_apply_delete_and_persist_across_a_reopen(home, page):
    with inb.Studio(home) as studio:
        p = page(OrderController(studio))
        presets = p.call("preset_save", name="small squares", model=SWATCH,
                         values={"prompt": "", "width": "32", "height": "32", "seed": "[1..3]"})
        assert presets == [{"name": "small squares", "model": SWATCH,
                            "params": {"width": 32, "height": 32, "seed": "[1..3]"}}]
        assert p.error("preset_save", name=" ", model=SWATCH, values={"width": "32"})["field"] == "preset_name"
        assert p.error("preset_save", name="empty", model=SWATCH, values={"prompt": ""})["field"] == "preset_name"
        p.call("preset_save", name="gone soon", model=None, values={"seed": "7"})
        p.controller.close()
    with inb.Studio(home) as studio:
        p = page(OrderController(studio))
        assert [x["name"] for x in p.call("init")["presets"]] == ["gone soon", "small squares"]
        applied = p.call("preset_apply", name="small squares")
        assert applied["model"] == SWATCH and applied["form"]["id"] == SWATCH
        assert applied["values"] == {"width": "32", "height": "32", "seed": "[1..3]"}
        plain = p.call("preset_apply", name="gone soon")
        assert plain["model"] is None and plain["values"] == {"seed": "7"}
        assert [x["name"] for x in p.call("preset_delete", name="gone soon")] == ["small squares"]
        assert p.error("preset_apply", name="gone soon")["field"] == "preset"
        assert p.error("preset_delete", name="gone soon")["field"] == "preset"
        p.controller.close()
    with inb.Studio(home) as studio:
        assert list(studio.presets) == ["small squares"]


def test_tokens_are_listed_edited_and_used_by_the_preview(order_page, studio):
    assert order_page.call("token_set", name="animal", values="cat\n dog \n\nfox") == \
        [{"name": "animal", "values": ["cat", "dog", "fox"]}]
    assert order_page.call("preview", model=SWATCH, values={"prompt": "a [animal]"})["count"] == 3
    renamed = order_page.call("token_set", name="pet", values=["cat", "dog"], old_name="animal")
    assert renamed == [{"name": "pet", "values": ["cat", "dog"]}]
    assert dict(studio.tokens) == {"pet": ["cat", "dog"]}
    assert order_page.error("token_set", name="two words", values=["x"])["field"] == "token_name"
    assert order_page.error("token_set", name="empty", values="\n ")["field"] == "token_values"
    assert order_page.call("token_delete", name="pet") == []
    assert order_page.error("token_delete", name="pet")["field"] == "token"
    assert order_page.call("tokens") == []


# ---- image inputs -------------------------------------------------------------------------------


def test_an_uploaded_file_becomes_an_image_input(order_page, studio):
    data = png(40, 24)
    out, bufs = order_page.call_with_buffers("upload", buffers=[data], name="ref.png", field="image")
    path = studio.home / "uploads" / out["path"].rsplit("/", 1)[-1]
    assert out["path"] == str(path) and path.read_bytes() == data
    assert (out["width"], out["height"], out["size"], out["field"]) == (40, 24, len(data), "image")
    assert bufs[out["thumb"]][8:12] == b"WEBP"
    # The same bytes again: the same file.
    assert order_page.call("upload", buffers=[data], name="again.png")["path"] == out["path"]
    # The path is a valid value of an image input (preview validates against the spec).
    preview = order_page.call("preview", model="diffusers:tiny", values={"prompt": "x", "image": out["path"]})
    assert preview["rows"][0]["image"] == out["path"]
    thumb, bufs = order_page.call_with_buffers("image_thumb", value=out["path"])
    assert thumb["kind"] == "file" and bufs[thumb["thumb"]][8:12] == b"WEBP"

    err = order_page.error("upload", buffers=[b"not an image"], name="notes.txt", field="image")
    assert err["field"] == "image" and "notes.txt" in err["message"]
    assert order_page.error("upload", name="x.png", field="mask")["field"] == "mask"


def test_the_gallery_picker_lists_recent_images(order_page, studio):
    assert order_page.call("recent") == {"items": [], "more": False, "offset": 0}
    studio.order(SWATCH, prompt="a [red,blue,green] kite", width=32, height=32).wait(30)
    page1, bufs = order_page.call_with_buffers("recent", limit=2)
    assert page1["more"] is True and len(page1["items"]) == 2
    assert all(image_of(bufs[i["thumb"]], i["mime"]) for i in page1["items"])
    assert page1["items"][0]["prompt"].endswith("kite")
    page2 = order_page.call("recent", limit=2, offset=2)
    assert len(page2["items"]) == 1 and page2["more"] is False
    assert len(order_page.call("recent", text="GREEN")["items"]) == 1
    product_id = page1["items"][0]["id"]
    thumb, bufs = order_page.call_with_buffers("image_thumb", value=product_id)
    assert thumb["kind"] == "product" and image_of(bufs[thumb["thumb"]], thumb["mime"]) == (32, 32)
    assert order_page.call("image_thumb", value="https://example.com/a.png")["kind"] == "url"
    assert order_page.call("image_thumb", value=str(studio.home / "no-such-file.png"))["kind"] == "missing"
    # A file outside the home is not even looked at (the page may be on another machine).
    assert order_page.call("image_thumb", value="/no/such/file.png")["kind"] == "outside"


# ---- the page ------------------------------------------------------------------------------------


def test_the_page_asks_only_for_requests_the_controller_serves():
    import re

    from imagen_nb.ui import assets

    js = "\n".join(p.read_text() for p in sorted((assets.STATIC / "order").glob("*.js")))
    asked = set(re.findall(r'ctx\.call\("(\w+)"', js))
    assert asked == {"init", "state", "model", "preview", "order", "reorder", "product", "recent", "upload", "loras",
                     "image_thumb", "projects", "create_project", "tokens", "token_set", "token_delete",
                     "preset_save", "preset_apply", "preset_delete", "attach_file", "attach_set", "detach",
                     "refine_choices", "refine", "civitai_state", "civitai_search", "civitai_resolve",
                     "civitai_add", "civitai_cancel"} - {"tokens"}
    assert all(hasattr(OrderController, f"rpc_{name}") for name in asked | {"tokens"})
    assert set(re.findall(r'ctx\.on\("(\w+)"', js)) == {"session", "table", "civitai"}
    module = assets.esm("order")
    assert "INB.panels.order = " in module
    assert ".inb-order-strip" in assets.css("order")


def test_ordering_by_keyboard_in_a_real_browser(panel_server, tab):
    """imagen-nb serve in headless Chromium: type a prompt with smart syntax, see the preview,
    order with Ctrl+Enter, and watch the strip fill and the latest product show large."""
    page = tab.page
    page.goto(panel_server)
    page.click(".inb-tab[data-tab=order]", timeout=30_000)
    prompt = page.locator(".inb-order [data-field=prompt] textarea")
    prompt.fill("a [red,blue] kite over the [sea,hills]")
    page.locator(".inb-order [data-field=width] input").fill("48")
    # (the panels live in a shadow root: locators reach into it, document.querySelector does not)
    page.locator(".inb-order-count", has_text="4 generations").wait_for()
    assert page.locator(".inb-order-table tbody tr").count() == 4
    page.locator(".inb-order [data-field=height] input").fill("[8..9]")   # not a multiple of 8
    page.wait_for_selector(".inb-order [data-field=height].inb-invalid .inb-field-error")
    page.locator(".inb-order [data-field=height] input").fill("")
    prompt.press("Control+Enter")
    page.locator(".inb-order-strip-item img").nth(3).wait_for()
    assert page.locator(".inb-order-strip-item").count() == 4
    page.wait_for_selector(".inb-order-large-img img")
    assert prompt.input_value() == ""                       # cleared for the next order
    assert "4 generations" in page.locator(".inb-order-note").inner_text()
    tab.shot("order")
    assert tab.errors == []


def test_form_labels_are_the_short_names_people_know(studio):
    form = describe_model(studio.model(SWATCH))
    labels = {f["name"]: f["label"] for f in form["fields"]}
    assert labels["num_inference_steps"] == "Steps" and labels["guidance_scale"] == "CFG scale"
    assert labels["num_images_per_prompt"] == "Images per prompt"
    assert all(len(label) <= 20 for label in labels.values()), labels


def test_the_lora_picker_lists_the_lora_folder(order_page, studio):
    folder = studio.home / "loras"
    (folder / "styles").mkdir(parents=True)
    (folder / "ink.safetensors").write_bytes(b"")
    (folder / "styles" / "watercolor.safetensors").write_bytes(b"")
    (folder / "notes.txt").write_text("not a LoRA")
    assert order_page.call("loras", model="diffusers:tiny") == ["ink", "styles/watercolor"]
    assert studio.loras("diffusers:tiny") == ["ink", "styles/watercolor"]
    assert order_page.call("loras", model=SWATCH) == []               # a model without LoRAs
    assert order_page.error("loras", model="nope")["field"] == "model"
    # The picker sends JSON [{name, weight}].
    preview = order_page.call("preview", model="diffusers:tiny", values={"prompt": "x", "loras": '[{"name": "ink", "weight": 0.6}, {"name": "styles/watercolor", "weight": 1}]'})
    assert preview["count"] == 1


def test_over_the_limit_the_panel_says_what_to_do_there(order_page):
    values = {"prompt": "x [1..2000]"}
    preview = order_page.call("preview", model=SWATCH, values=values)
    assert "pass limit=" not in preview["too_large"] and "studio.limit = 2_000" in preview["too_large"]
    error = order_page.error("order", model=SWATCH, values=values)
    assert "pass limit=" not in error["message"] and "Narrow a group" in error["message"]
