"""The Gallery panel's messages, driven through the real protocol against a real Studio."""

from __future__ import annotations

import io
import wave
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from PIL import Image

from imagen_nb.ui.gallery import GalleryController

PNG = b"\x89PNG\r\n\x1a\n"


def is_webp(data: bytes) -> bool:
    return data[:4] == b"RIFF" and data[8:12] == b"WEBP"


@pytest.fixture
def filled(studio):
    """Two projects, a product without one, big products (with WEBP thumbnails) and small ones."""
    cats = studio.order("instant:swatch", project="cats", prompt="a [red,blue] cat", seed=[1, 2]).wait(30)
    dogs = studio.order("instant:swatch", project="dogs", prompt="a dog [1..3]", width=512, height=512).wait(30)
    fox = studio.order("instant:swatch", prompt="a lone fox", seed=9).wait(30)
    return SimpleNamespace(studio=studio, cats=cats, dogs=dogs, fox=fox,
                           all_ids=list(studio.gallery(limit=100).product_id))


@pytest.fixture
def gallery(page, filled):
    return page(GalleryController(filled.studio))


def ids_of(result) -> list[str]:
    return [item["id"] for item in result["items"]]


def test_init_sends_the_first_page_with_thumbnails_and_the_menus(gallery, filled):
    result, buffers = gallery.call_with_buffers("init")
    first = result["page"]
    assert first["total"] == 8 and first["offset"] == 0 and first["next_offset"] is None
    # newest first: the fox, then the dogs, then the cats
    assert ids_of(first)[0] == filled.fox.products[0].id
    assert [i["created_at"] for i in first["items"]] == sorted((i["created_at"] for i in first["items"]), reverse=True)
    assert len(buffers) == 8
    for item in first["items"]:
        thumb = buffers[item["thumb"]]
        assert is_webp(thumb) or thumb.startswith(PNG), item
    big = next(i for i in first["items"] if i["project"] == "dogs")
    thumb = buffers[big["thumb"]]
    assert is_webp(thumb) and big["thumb_type"] == "image/webp" and big["width"] == 512
    assert len(thumb) < big["size"]  # the grid never gets the full image
    assert Image.open(io.BytesIO(thumb)).size[0] <= 256
    small = next(i for i in first["items"] if i["project"] == "cats")
    assert buffers[small["thumb"]].startswith(PNG) and small["thumb_type"] == "image/png"
    assert small["model"] == "instant:swatch" and small["kind"] == "image" and small["prompt"].endswith("cat")

    options = result["options"]
    assert {p["name"]: p["products"] for p in options["projects"]} == {"cats": 4, "dogs": 3}
    assert options["models"] == [{"id": "instant:swatch", "products": 8}]
    assert options["kinds"] == [{"id": "image", "products": 8}]
    assert options["collections"] == [] and options["total"] == 8
    assert result["page_size"] == 60 and "collection" in result["group_by"]


def test_pages_follow_offsets_and_count_the_total_once(gallery, filled):
    first, bufs = gallery.call_with_buffers("page", limit=3)
    assert first["total"] == 8 and first["next_offset"] == 3 and len(bufs) == 3
    second = gallery.call("page", offset=3, limit=3, total=False)
    assert second["total"] is None and second["next_offset"] == 6
    last = gallery.call("page", offset=6, limit=3, total=False)
    assert len(last["items"]) == 2 and last["next_offset"] is None
    assert ids_of(first) + ids_of(second) + ids_of(last) == filled.all_ids
    assert gallery.error("page", limit=500)["field"] == "limit"
    assert gallery.error("page", offset=-1)["field"] == "offset"


def test_each_filter_and_the_search(gallery, filled):
    studio = filled.studio

    def listed(**filters):
        return set(ids_of(gallery.call("page", filters=filters)))

    cats = {p.id for p in filled.cats.products}
    dogs = {p.id for p in filled.dogs.products}
    fox = {filled.fox.products[0].id}
    assert listed(text="FOX") == fox
    assert listed(text="  cat ") == cats
    assert listed(project_id=studio.project("cats").id) == cats
    assert listed(no_project=True) == fox
    assert listed(order_id=filled.dogs.id) == dogs
    assert listed(model="instant:swatch") == cats | dogs | fox
    assert listed(kind="image") == cats | dogs | fox and listed(kind="video") == set()
    studio.rate(filled.fox.products, 5)
    studio.rate(filled.cats.products[0], 3)
    assert listed(min_rating=4) == fox
    assert listed(min_rating=3) == fox | {filled.cats.products[0].id}
    picks = studio.collection("picks")
    picks.add(filled.dogs.products[:2])
    assert listed(collection_id=picks.id) == {p.id for p in filled.dogs.products[:2]}
    assert listed(collection="picks", text="dog 1") == {filled.dogs.products[0].id}
    assert listed(no_collection=True) == cats | fox | {filled.dogs.products[2].id}
    today, tomorrow = date.today(), date.today() + timedelta(days=1)
    assert listed(since=today.isoformat(), until=today.isoformat()) == cats | dogs | fox  # the whole day
    assert listed(since=tomorrow.isoformat()) == set()
    assert listed(until=(today - timedelta(days=1)).isoformat()) == set()
    later = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert listed(until=later) == cats | dogs | fox
    # empty values mean "any"
    assert listed(text="", kind=None, min_rating=None, project_id="") == cats | dogs | fox
    assert gallery.call("page", filters={"text": "dog"})["total"] == 3


@pytest.mark.parametrize("filters, field", [
    ({"min_rating": 7}, "min_rating"),
    ({"kind": "gif"}, "kind"),
    ({"since": "last tuesday"}, "since"),
    ({"since": "2025-02-01", "until": "2025-01-01"}, "until"),
    ({"colour": "red"}, "colour"),
    ({"collection_id": "nope"}, "collection"),
    ({"model": 3}, "model"),
])
def test_a_bad_filter_names_its_control(gallery, filters, field):
    error = gallery.error("page", filters=filters)
    assert error["field"] == field and error["message"]


def test_groups_give_section_headers_whose_filters_list_each_section(gallery, filled):
    studio = filled.studio
    studio.collection("picks").add([filled.fox.products[0], filled.cats.products[0]])
    studio.collection("best").add(filled.fox.products[0])

    by_project = gallery.call("groups", by="project")
    assert by_project["total"] == 8
    assert [(g["label"], g["count"]) for g in by_project["groups"]] == [("cats", 4), ("dogs", 3), ("No project", 1)]
    for group in by_project["groups"]:
        section = gallery.call("page", filters=group["filter"])
        assert section["total"] == group["count"]
    assert ids_of(gallery.call("page", filters=by_project["groups"][2]["filter"])) == [filled.fox.products[0].id]

    by_collection = {g["label"]: g for g in gallery.call("groups", by="collection")["groups"]}
    assert {k: g["count"] for k, g in by_collection.items()} == {"picks": 2, "best": 1, "In no collection": 6}
    assert by_collection["picks"]["key"] == studio.collection("picks").id
    assert gallery.call("page", filters=by_collection["best"]["filter"])["total"] == 1
    assert gallery.call("page", filters=by_collection["In no collection"]["filter"])["total"] == 6

    # grouping respects the filters
    assert [(g["label"], g["count"]) for g in gallery.call("groups", by="project", filters={"text": "fox"})["groups"]] \
        == [("No project", 1)]
    assert [(g["key"], g["count"]) for g in gallery.call("groups", by="kind")["groups"]] == [("image", 8)]
    assert [(g["key"], g["count"]) for g in gallery.call("groups", by="model")["groups"]] == [("instant:swatch", 8)]
    assert gallery.error("groups", by="colour")["field"] == "group"


def test_details_show_every_parameter_set_the_order_and_the_file(gallery, filled):
    product = filled.cats.products[1]
    result, buffers = gallery.call_with_buffers("details", product_id=product.id)
    item = result["product"]
    assert item["prompt"] == "a red cat" and item["seed"] == 2 and item["path"] == str(product.path)
    assert (item["width"], item["height"], item["size"]) == (64, 64, product.path.stat().st_size)
    assert item["project"] == "cats" and item["name"] == product.path.name and item["created_at"]
    assert buffers[item["thumb"]].startswith(PNG)
    gen = result["generation"]
    assert gen["params"]["prompt"] == "a red cat" and gen["params"]["seed"] == 2
    assert gen["actual"]["num_inference_steps"] == 1 and gen["actual"]["width"] == 64  # defaults filled
    assert gen["returned"]["seed"] == 2 and "seconds" in gen["returned"] and gen["status"] == "complete"
    order = result["order"]
    assert order == {"id": filled.cats.id, "model": "instant:swatch", "status": "fulfilled",
                     "base_params": {"prompt": "a [red,blue] cat", "seed": [1, 2]}}
    assert result["model"]["id"] == "instant:swatch" and result["model"]["known"]
    assert result["can_vary"] is False and result["model"]["supports_image_to_image"] is False

    original, bufs = gallery.call_with_buffers("original", product_id=product.id)
    assert bufs[original["buf"]] == product.path.read_bytes()
    assert original["media_type"] == "image/png" and original["name"] == product.path.name


def test_details_and_pages_stay_small_for_a_huge_prompt(gallery, filled):
    import json

    from imagen_nb.core.limits import MAX_PROMPT_CHARS
    from imagen_nb.ui.gallery import DETAILS_TEXT_CHARS, GRID_PROMPT_CHARS

    prompt = "a very long prompt, " * 20_000  # 400,000 characters, in every parameter set
    product = filled.studio.order("instant:swatch", prompt=prompt, seed=1).wait(30).products[0]
    stored = filled.studio.sql("select length(prompt) as n from gallery where product_id = ?", [product.id]).n[0]
    assert stored == MAX_PROMPT_CHARS  # the column is bounded; the generation's params keep it all
    details = gallery.call("details", product_id=product.id)
    assert details["truncated"] is True
    assert details["product"]["prompt"] == prompt[:DETAILS_TEXT_CHARS] + "…"
    assert details["generation"]["params"]["prompt"] == prompt[:DETAILS_TEXT_CHARS] + "…"
    assert len(json.dumps(details)) < 8 * DETAILS_TEXT_CHARS
    page = gallery.call("page", filters={"ids": [product.id]})
    assert len(page["items"][0]["prompt"]) == GRID_PROMPT_CHARS + 1
    assert gallery.call("details", product_id=filled.fox.products[0].id)["truncated"] is False


def test_rating_reaches_the_catalog(gallery, filled):
    a, b = filled.cats.products[:2]
    assert gallery.call("rate", ids=[a.id], rating=4) == {"rated": 1, "rating": 4, "ids": [a.id]}
    assert filled.studio.sql("select rating from gallery where product_id = ?", [a.id]).rating[0] == 4
    assert gallery.call("page", filters={"ids": [a.id]})["items"][0]["rating"] == 4
    gallery.call("rate", ids=[a.id, b.id], rating=None)
    ratings = filled.studio.sql("select rating from products where id in (?, ?)", [a.id, b.id]).rating
    assert ratings.isna().all()
    error = gallery.error("rate", ids=[a.id], rating=7)
    assert error["field"] == "rating" and "1 to 5" in error["message"]
    assert gallery.error("rate", ids=["nope"], rating=3)["field"] == "ids"
    assert gallery.error("rate", ids=[], rating=3)["field"] == "ids"


def test_collections_add_create_and_remove(gallery, filled):
    a, b = filled.cats.products[:2]
    error = gallery.error("collect", ids=[a.id], collection="keepers")
    assert error["field"] == "collection" and "create" in error["message"]
    made = gallery.call("collect", ids=[a.id, b.id], collection=" keepers ", create=True)
    assert made["created"] is True and made["added"] == 2 and made["collection"]["name"] == "keepers"
    again = gallery.call("collect", ids=[a.id], collection="keepers")
    assert again == {"collection": made["collection"], "added": 0, "created": False, "ids": [a.id]}
    assert filled.studio.collection("keepers").product_ids == [a.id, b.id]
    assert gallery.call("options")["collections"] == [{"id": made["collection"]["id"], "name": "keepers",
                                                       "products": 2}]
    assert gallery.call("details", product_id=a.id)["product"]["collections"] == ["keepers"]
    assert gallery.call("uncollect", ids=[a.id], collection="keepers")["removed"] == 1
    assert filled.studio.collection("keepers").product_ids == [b.id]
    assert gallery.error("uncollect", ids=[a.id], collection="nope")["field"] == "collection"
    assert gallery.error("collect", ids=[a.id], collection="  ", create=True)["field"] == "collection"
    assert gallery.error("collect", ids=["nope"], collection="keepers")["field"] == "ids"


def test_delete_is_soft_and_undone(gallery, filled):
    victim = filled.fox.products[0]
    assert gallery.call("delete", ids=[victim.id]) == {"deleted": 1, "ids": [victim.id]}
    after = gallery.call("page")
    assert after["total"] == 7 and victim.id not in ids_of(after)
    assert victim.path.exists()
    assert gallery.error("details", product_id=victim.id)["field"] == "product_id"
    assert gallery.call("restore", ids=[victim.id]) == {"restored": 1, "ids": [victim.id]}
    assert ids_of(gallery.call("page"))[0] == victim.id
    assert gallery.error("restore", ids=["nope"])["field"] == "ids"


def test_bulk_actions_on_many_products(gallery, filled):
    ids = [p.id for p in filled.dogs.products]
    assert gallery.call("rate", ids=ids, rating=2)["rated"] == 3
    assert gallery.call("collect", ids=ids, collection="dogs", create=True)["added"] == 3
    frame = filled.studio.sql("select rating, collections from gallery where order_id = ?", [filled.dogs.id])
    assert set(frame.rating) == {2} and all(list(c) == ["dogs"] for c in frame.collections)
    assert gallery.call("delete", ids=ids)["deleted"] == 3
    assert gallery.call("page")["total"] == 5
    assert {p["name"]: p["products"] for p in gallery.call("options")["projects"]} == {"cats": 4, "dogs": 0}
    assert gallery.call("restore", ids=ids)["restored"] == 3
    assert gallery.call("page", filters={"collection": "dogs"})["total"] == 3


def test_unknown_products_and_requests_are_error_replies(gallery):
    assert gallery.error("details", product_id="nope")["field"] == "product_id"
    assert gallery.error("original", product_id="nope")["field"] == "product_id"
    assert gallery.error("delete", ids=["nope"])["field"] == "ids"
    assert gallery.error("vary", product_id="nope")["field"] == "product_id"
    assert "no request" in gallery.error("frobnicate")["message"]


def test_vary_is_refused_for_a_model_without_image_to_image(gallery, filled):
    product = filled.fox.products[0]
    error = gallery.error("vary", product_id=product.id, n=2)
    assert error["field"] == "model" and "cannot make variations" in error["message"]
    assert "instant:swatch" in error["message"]
    assert gallery.error("vary", product_id=product.id, n=0)["field"] == "n"
    assert gallery.error("vary", product_id=product.id, strength=1.5)["field"] == "strength"
    assert len(filled.studio.orders()) == 3  # nothing was ordered


def test_vary_orders_variations_when_the_model_starts_from_an_image(gallery, studio, tmp_path):
    from imagen_nb.store import pngmeta

    buf = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(buf, format="PNG")
    params = {"prompt": "a red square", "seed": 1, "width": 64, "height": 64, "num_inference_steps": 4}
    (tmp_path / "made.png").write_bytes(pngmeta.embed(buf.getvalue(), params, "diffusers:tiny"))
    product = studio.import_products([tmp_path / "made.png"])[0]
    details = gallery.call("details", product_id=product.id)
    assert details["can_vary"] is True and details["generation"] is None and details["order"] is None
    placed = gallery.call("vary", product_id=product.id, n=2, strength=0.6)
    try:
        assert placed["model"] == "diffusers:tiny" and placed["generations"] == 2
        order = studio.get_order(placed["order_id"])
        assert order.base_params["image"] == product.id and order.base_params["strength"] == 0.6
    finally:
        studio.cancel(placed["order_id"])


def test_new_products_are_announced_at_most_ten_times_a_second(gallery, filled):
    studio = filled.studio
    order = studio.order("instant:swatch", prompt="fresh [1..30]", step_seconds=0.01, num_inference_steps=2)
    order.wait(30)
    made = {p.id for p in order.products}
    gallery.wait_for(lambda pg: {i for d in pg.pushes("new_products") for i in d["ids"]} >= made)
    pushes = gallery.pushes("new_products")
    assert sum(d["count"] for d in pushes) == 30
    assert len(pushes) < 30  # batched by the throttle, not one message per product
    assert all(d["ids"] == list(dict.fromkeys(d["ids"])) for d in pushes)
    # the page fetches the announced products that match its filters, with thumbnails
    latest = pushes[-1]["ids"]
    fetched, bufs = gallery.call_with_buffers("page", filters={"ids": latest, "text": "fresh"}, limit=len(latest))
    assert set(ids_of(fetched)) == set(latest) and len(bufs) == len(latest)
    assert gallery.call("page", filters={"ids": latest, "project_id": studio.project("cats").id})["total"] == 0


def test_audio_products_show_a_waveform_with_their_type(gallery, filled):
    from imagen_nb.catalog import products as q_products
    from imagen_nb.core.ids import new_id

    studio = filled.studio
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
        w.writeframes(bytes(range(256)) * 64)
    data, product_id, now = buf.getvalue(), new_id(), datetime.now(timezone.utc)
    # No offline model makes audio: store one as a provider's output would be (store + catalog writers).
    stored = studio.store.write(product_id, data, "wav", now)
    q_products.insert_products(studio.catalog.cursor(), [{
        "id": product_id, "source": "imported", "kind": "audio", "media_type": "audio/wav",
        "path": str(stored.path), "thumb_path": str(stored.thumb_path), "size": stored.size,
        "sha256": stored.sha256, "prompt": "a beep", "created_at": now}])

    result, bufs = gallery.call_with_buffers("page", filters={"kind": "audio"})
    assert ids_of(result) == [product_id]
    item = result["items"][0]
    assert item["kind"] == "audio" and is_webp(bufs[item["thumb"]])
    assert {k["id"] for k in gallery.call("options")["kinds"]} == {"image", "audio"}
    original, bufs = gallery.call_with_buffers("original", product_id=product_id)
    assert original["media_type"] == "audio/wav" and bufs[original["buf"]] == data
    assert gallery.call("details", product_id=product_id)["can_vary"] is False


def test_the_page_asks_only_for_requests_the_controller_serves():
    import re

    from imagen_nb.ui import assets

    js = "\n".join(p.read_text() for p in sorted((assets.STATIC / "gallery").glob("*.js")))
    asked = set(re.findall(r'ctx\.call\("(\w+)"', js))
    assert asked >= {"init", "page", "groups", "options", "details", "original", "rate", "collect", "uncollect",
                     "delete", "restore", "vary", "select", "code", "import", "grid", "thumbs"}
    assert all(hasattr(GalleryController, f"rpc_{name}") for name in asked)
    assert set(re.findall(r'ctx\.on\("(\w+)"', js)) == {"new_products"}
    module = assets.esm("gallery")
    assert "INB.panels.gallery = mount" in module and module.rstrip().endswith("};")
    assert ".inb-gallery-grid" in assets.css("gallery")


def test_selection_reaches_python_as_widget_selected_and_copy_as_code(studio):
    import imagen_nb as inb
    from imagen_nb.ui.gallery import GalleryController  # noqa: F401  (the widget's own controller)

    order = studio.order("instant:swatch", prompt="a [red,blue] kite", seed=[3, 4], width=32).wait(30)
    widget = inb.Gallery(studio)
    try:
        controller = widget.controllers["gallery"]
        assert widget.selected == []
        chosen = [order.products[2].id, order.products[0].id]
        controller.handle({"panel": "gallery", "rid": 1, "method": "select", "args": {"ids": chosen}})
        assert [p.id for p in widget.selected] == chosen
        frame = studio.gallery(ids=[p.id for p in widget.selected])
        assert sorted(frame["product_id"]) == sorted(chosen)
        controller.handle({"panel": "gallery", "rid": 2, "method": "select", "args": {"ids": []}})
        assert widget.selected == []
    finally:
        widget.close()


def test_copy_as_code_reproduces_a_product_and_an_order(studio, page):
    from imagen_nb.ui.gallery import GalleryController
    from imagen_nb.ui.production import ProductionController

    order = studio.order("instant:swatch", project="kites", prompt="a [red,blue] kite", seed=[3, 4],
                         width=32).wait(30)
    product = order.products[1]
    code = page(GalleryController(studio)).call("code", product_id=product.id)["code"]
    assert code.startswith("studio.order(") and "'instant:swatch'" in code and f"seed={product.seed!r}" in code
    again = eval(code, {"studio": studio}).wait(30)                   # noqa: S307 - our own generated call
    assert len(again.products) == 1
    assert again.products[0].image.tobytes() == product.image.tobytes()   # the same pixels
    code = page(ProductionController(studio)).call("code", order_id=order.id)["code"]
    assert "project='kites'" in code and "prompt='a [red,blue] kite'" in code and "seed=[3, 4]" in code
    assert len(eval(code, {"studio": studio}).wait(30).products) == 4  # noqa: S307


def _a1111_png() -> bytes:
    import io

    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("parameters", "a lighthouse at dusk\nNegative prompt: blurry\n"
                  "Steps: 30, Sampler: Euler a, CFG scale: 6.5, Seed: 1234, Size: 64x72, Model: sd_xl_base_1.0")
    buf = io.BytesIO()
    Image.new("RGB", (64, 72), "teal").save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def test_import_dropped_files_with_their_parameters_each_on_its_own(studio, page):
    from imagen_nb.ui.gallery import GalleryController

    p = page(GalleryController(studio))
    out = p.call("import", buffers=[_a1111_png(), b"not an image"], names=["../../lighthouse.png", "notes.txt"])
    assert [i["name"] for i in out["imported"]] == ["lighthouse.png"] and out["imported"][0]["params"]
    assert out["refused"][0]["name"] == "notes.txt" and "not an image" in out["refused"][0]["message"]
    product = studio.product(out["imported"][0]["id"])
    assert product.prompt == "a lighthouse at dusk" and product.seed == 1234
    assert product.path.is_relative_to(studio.home)
    assert p.error("import", buffers=[b"x"], names=[])["field"] == "files"


def test_grid_view_of_an_order_reads_its_axes_swaps_them_and_names_each_cells_product(studio, page):
    """Issue 13: the Gallery's grid view lays an order out on what varies in it; each cell's product
    has the parameters its row and column say; naming the axes the other way round swaps them."""
    order = studio.order("instant:swatch", prompt="a [red,blue] fox", seed="[1..3]").wait(30)
    p = page(GalleryController(studio))
    grid = p.call("grid", order_id=order.id)
    assert grid["axes"]["x"]["name"] == "seed" and grid["axes"]["y"]["name"] == "prompt"
    assert grid["axes"]["x"]["labels"] == ["1", "2", "3"] and len(grid["cells"]) == 6
    assert set(grid["choices"]) >= {"seed", "prompt"}
    for cell in grid["cells"]:
        product = studio.product(cell["product_id"])
        assert cell["status"] == "complete"
        assert str(product.seed) == grid["axes"]["x"]["labels"][cell["x"]]
        assert product.prompt == grid["axes"]["y"]["labels"][cell["y"]]
    swapped = p.call("grid", order_id=order.id, x="prompt", y="seed")
    assert swapped["axes"]["x"]["name"] == "prompt" and swapped["axes"]["y"]["labels"] == ["1", "2", "3"]
    one = {(c["x"], c["y"]): c["product_id"] for c in grid["cells"]}
    assert all(one[(c["y"], c["x"])] == c["product_id"] for c in swapped["cells"])
    thumbs, buffers = p.call_with_buffers("thumbs", product_ids=[c["product_id"] for c in grid["cells"]])
    assert len(thumbs["items"]) == 6 and all(buffers[t["buf"]][:4] for t in thumbs["items"].values())
    bad = p.error("grid", order_id=order.id, x="sampler")
    assert bad["field"] == "x" and "sampler" in bad["message"]


def test_grid_view_of_a_selection_picks_the_names_that_vary_and_refuses_nothing_chosen(studio, page):
    studio.order("instant:swatch", prompt="a [red,blue] kite", seed="[5,6]").wait(30)
    ids = list(studio.gallery(limit=10).product_id)
    p = page(GalleryController(studio))
    grid = p.call("grid", ids=ids)
    names = {grid["axes"]["x"]["name"], grid["axes"]["y"]["name"]}
    assert {"seed", "prompt"} <= names | set(grid["choices"]) and len(grid["cells"]) == 4
    assert sorted(c["product_id"] for c in grid["cells"]) == sorted(ids)
    assert p.error("grid")["field"] == "grid"


# -- scores and lineage (issue 15), upscaling (issue 17), LoRA training (issue 16) --------------
SMALL_REFINE = {"judge_params": {"max_new_tokens": 6}, "rewriter_params": {"max_new_tokens": 6}}


def test_pages_sort_by_a_score_and_filter_by_the_lowest_one(gallery, filled):
    studio = filled.studio
    cats = [p.id for p in filled.cats.products]
    studio.score(cats, "clip:tiny-clip")
    values = dict(zip(studio.gallery(limit=10, ids=cats).product_id, studio.gallery(limit=10, ids=cats).clip_score))
    ranked = sorted(cats, key=lambda i: -values[i])
    page = gallery.call("page", sort="clip_score", limit=20)
    assert page["sort"] == "clip_score"
    got = ids_of(page)
    assert got[:4] == ranked and len(got) == 8          # highest first, the unscored after them
    item = page["items"][0]
    assert item["clip_score"] == pytest.approx(values[ranked[0]]) and item["judge_score"] is None
    assert all(i["clip_score"] is None for i in page["items"][4:])
    # The lowest score: only products with that score, at or above it.
    floor = sorted(values.values())[1]
    kept = gallery.call("page", filters={"min_clip_score": floor}, sort="clip_score")
    assert set(ids_of(kept)) == {i for i in cats if values[i] >= floor} and kept["total"] == 3
    assert gallery.call("page", filters={"scored": True})["total"] == 4
    groups = gallery.call("groups", by="project", filters={"min_clip_score": floor})
    assert groups["total"] == 3 and [g["count"] for g in groups["groups"]] == [3]
    first = gallery.call("init", sort="clip_score")
    assert ids_of(first["page"])[0] == ranked[0] and "judge_score" in first["sorts"]
    # Details carry the scores; bad values name their control.
    details = gallery.call("details", product_id=ranked[0])
    assert details["product"]["clip_score"] == pytest.approx(values[ranked[0]])
    assert details["lineage"] is None                     # made outside any refinement
    assert gallery.error("page", sort="vibes")["field"] == "sort"
    assert gallery.error("page", filters={"min_judge_score": "high"})["field"] == "min_judge_score"
    assert gallery.error("page", filters={"min_aesthetic_score": True})["field"] == "min_aesthetic_score"


def test_details_show_the_refinement_chain_a_product_came_from(studio, page):
    ref = studio.refine(["a red fox in snow"], "instant:swatch", iterations=2, n=2, scorer="clip:tiny-clip",
                        **SMALL_REFINE).wait(300)
    rounds = ref.summary.sort_values("round")
    assert len(rounds) == 2
    first, second = rounds.product_id.tolist()
    g = page(GalleryController(studio))
    result, buffers = g.call_with_buffers("details", product_id=second)
    lineage = result["lineage"]
    assert [r["round"] for r in lineage["rounds"]] == [1, 2]
    one, two = lineage["rounds"]
    assert one["product_id"] == first and one["next_product_id"] == second and not one["current"]
    assert two["product_id"] == second and two["current"] and two["next_product_id"] is None
    assert one["prompt"] == "a red fox in snow" and one["next_prompt"] == two["prompt"]
    assert isinstance(one["judgement"], str) and one["judgement"]
    assert one["score"] == pytest.approx(float(rounds.score.iloc[0]))
    for r in lineage["rounds"]:                        # each round's product comes with its thumbnail
        assert r["available"] and buffers[r["thumb"]][:4] in (PNG[:4], b"RIFF")
    # The first round's product sees the same chain, marked at its own round.
    again = g.call("details", product_id=first)["lineage"]
    assert [r["current"] for r in again["rounds"]] == [True, False] and again["rounds"][0]["best"]
    # A candidate the judge did not pick: its round is marked, not as the best.
    candidates = studio.gallery(limit=10, order_id=studio.product(first).order_id).product_id
    other = next(i for i in candidates if i != first)
    theirs = g.call("details", product_id=other)["lineage"]["rounds"]
    assert [r["current"] for r in theirs] == [True, False] and not theirs[0]["best"]


def test_upscale_one_product_and_a_selection_with_a_scale_from_the_models_spec(gallery, filled):
    studio = filled.studio
    menu = gallery.call("upscalers")
    esrgan = next(m for m in menu["models"] if m["id"] == "diffusers:tiny-esrgan")
    assert esrgan["local"] and esrgan["upscale_factor"] == 4 and "noise" in esrgan["description"]
    assert esrgan["scale"]["maximum"] == 4 and esrgan["scale"]["default"] == 4 and 2 in esrgan["scale"]["choices"]
    assert menu["chosen"] == menu["default"] or (menu["default"] is None and menu["chosen"] == "diffusers:tiny-esrgan")
    fal = next(m for m in menu["models"] if m["id"] == "fal:fal-ai/esrgan")
    assert not fal["local"] and fal["scale"]["maximum"] == 8

    fox = filled.fox.products[0]
    one = gallery.call("upscale", ids=[fox.id], model="diffusers:tiny-esrgan", scale=2)
    assert one["generations"] == 1 and one["model"] == "diffusers:tiny-esrgan" and one["scale"] == 2
    made = studio.get_order(one["order_id"]).wait(120).products
    assert len(made) == 1 and (made[0].width, made[0].height) == (fox.width * 2, fox.height * 2)

    cats = [p.id for p in filled.cats.products[:2]]
    bulk = gallery.call("upscale", ids=cats, model="diffusers:tiny-esrgan", scale=1.5)
    assert bulk["generations"] == 2 and len(studio.get_order(bulk["order_id"]).wait(120).products) == 2

    # Errors name their field: a scale above the model's, a model that is not an upscaler, an unknown one.
    assert gallery.error("upscale", ids=[fox.id], model="diffusers:tiny-esrgan", scale=8)["field"] == "scale"
    wrong = gallery.error("upscale", ids=[fox.id], model="instant:swatch", scale=2)
    assert wrong["field"] == "model" and "not an upscaler" in wrong["message"]
    assert gallery.error("upscale", ids=[fox.id], model="diffusers:nope", scale=2)["field"] == "model"
    assert gallery.error("upscale", ids=[], model="diffusers:tiny-esrgan", scale=2)["field"] == "ids"
    assert gallery.error("upscale", ids=[fox.id], model="diffusers:tiny-esrgan", scale="big")["field"] == "scale"


def test_train_lora_options_dry_check_errors_at_their_fields_and_start(studio, page):
    order = studio.order("diffusers:tiny", prompt="a [red,blue] cat", seed=7, num_inference_steps=2,
                         width=128, height=64).wait(300)
    ids = [p.id for p in order.products]
    swatch = studio.order("instant:swatch", prompt="a swatch", seed=1).wait(30).products[0].id
    g = page(GalleryController(studio))
    options = g.call("train_options", ids=ids)
    assert options["base"] == "diffusers:tiny" and any(b["id"] == "diffusers:tiny" for b in options["bases"])
    assert "prompt" in options["columns"] and "negative_prompt" in options["columns"]
    assert "sha256" not in options["columns"] and options["defaults"]["rank"] == 4
    assert options["defaults"]["aspect"] == "crop" and options["defaults"]["train_text_encoder"] is False
    tiny = next(b for b in options["bases"] if b["id"] == "diffusers:tiny")
    assert tiny["resolution"] == 64                        # what an empty Resolution box trains at

    args = {"ids": ids, "name": "cats-style", "base": "diffusers:tiny", "steps": 3, "rank": 4}
    check = g.call("train_check", **args, captions="prompt")
    assert check["count"] == 2 and check["shown"] == 2
    assert {r["caption"] for r in check["dataset"]} == {"a red cat", "a blue cat"}
    assert {r["product_id"] for r in check["dataset"]} == set(ids)
    assert studio.training_runs().empty                   # a dry check starts nothing
    assert check["aspect"] == "crop" and check["resolution"] == 64
    assert {(r["target_width"], r["target_height"]) for r in check["dataset"]} == {(64, 64)}
    # The aspect: 128×64 images are cropped to the square, or go to the 192×64 bucket.
    crop = g.call("train_check", **args, resolution=128, aspect="crop")
    assert [(r["width"], r["height"], r["target_width"], r["target_height"]) for r in crop["dataset"]] == [(128, 64, 128, 128)] * 2
    bucket = g.call("train_check", **args, resolution=128, aspect="bucket")
    assert bucket["aspect"] == "bucket" and bucket["resolution"] == 128
    assert [(r["target_width"], r["target_height"]) for r in bucket["dataset"]] == [(192, 64)] * 2

    assert g.error("train_check", **{**args, "name": "9 bad name"})["field"] == "name"
    assert g.error("train_check", **{**args, "rank": 0})["field"] == "rank"
    assert g.error("train_check", **{**args, "steps": "many"})["field"] == "steps"
    assert g.error("train_check", **{**args, "base": "diffusers:nope"})["field"] == "base"
    assert g.error("train_check", **args, captions="vibes")["field"] == "captions"
    empty = g.error("train_check", **args, captions="negative_prompt")   # no negative prompts: empty captions
    assert empty["field"] == "captions"
    other = g.error("train_check", **{**args, "ids": [*ids, swatch]})
    assert other["field"] == "products" and "family" in other["message"]
    # The aspect, resolution and text-encoder options' errors name their own fields.
    assert g.error("train_check", **args, aspect="squash")["field"] == "aspect"
    assert g.error("train_check", **args, aspect="bucket", resolution=96)["field"] == "resolution"   # not a multiple of 64
    assert g.error("train_check", **args, resolution="big")["field"] == "resolution"
    assert g.error("train_check", **args, train_text_encoder="yes")["field"] == "train_text_encoder"
    rate = g.error("train_check", **args, train_text_encoder=True, text_encoder_learning_rate=2)
    assert rate["field"] == "text_encoder_learning_rate" and "at most 1" in rate["message"]
    assert g.error("train", **args, train_text_encoder=True, text_encoder_learning_rate="fast")["field"] == \
        "text_encoder_learning_rate"
    assert g.error("train", **args, text_encoder_learning_rate=1e-4)["field"] == "text_encoder_learning_rate"   # without the encoder
    assert studio.training_runs().empty

    started = g.call("train", **args, captions="prompt", resolution=128, aspect="bucket", train_text_encoder=True,
                     text_encoder_learning_rate=5e-5)
    assert started["name"] == "cats-style" and started["images"] == 2 and started["steps"] == 3
    run = studio.training_run("cats-style")
    assert run.id == started["run_id"]
    assert sorted(run.dataset.caption) == sorted(r["caption"] for r in check["dataset"])   # what the preview showed
    assert list(zip(run.dataset.target_width, run.dataset.target_height)) == [(192, 64)] * 2
    config = run.config
    assert config["aspect"] == "bucket" and config["resolution"] == 128
    assert config["train_text_encoder"] is True and config["text_encoder_learning_rate"] == pytest.approx(5e-5)
    assert run.wait(timeout=300) and run.status == "completed", run.record()["error_message"]
    assert "cats-style" in studio.loras("diffusers:tiny")
