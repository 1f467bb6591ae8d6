"""The panels in a client process: orders placed in the host show up live, and the panels'
requests (pages, thumbnails, orders) work over the host's API."""

from __future__ import annotations

import imagen_nb as inb
from imagen_nb.ui.gallery import GalleryController
from imagen_nb.ui.order import OrderController
from imagen_nb.ui.production import ProductionController


def _updates(p, key):
    return [item for d in p.pushes("update") for item in d.get(key, [])]


def test_production_and_gallery_in_a_client_follow_the_hosts_orders_live(home, host, page):
    with inb.Studio(home) as studio:
        assert not studio.is_host
        production = page(ProductionController(studio))
        assert production.call("init")["orders"] == []
        # an order placed in the host process, not here
        order_id = host.ask("order a [red,blue] kite")
        done = production.wait_for(lambda pg: [o for o in _updates(pg, "orders")
                                               if o["id"] == order_id and o["status"] == "fulfilled"])
        assert done[-1]["counts"]["complete"] == 4
        gallery = page(GalleryController(studio))
        first, buffers = gallery.call_with_buffers("init")
        items = first["page"]["items"]
        assert len(items) == 4 and {i["prompt"] for i in items} == {"a red kite", "a blue kite"}
        assert len(buffers) == 4 and all(buffers[i["thumb"]].startswith((b"RIFF", b"\x89PNG")) for i in items)
        # the grid view of the host's order, laid out by the host (studio.views.grid_layout)
        grid = gallery.call("grid", order_id=order_id)
        assert grid["order_id"] == order_id and len(grid["cells"]) == 4
        assert {grid["axes"]["x"]["name"], grid["axes"]["y"]["name"]} == {"seed", "prompt"}
        # and an order from the client's Order panel runs on the host
        panel = page(OrderController(studio))
        panel.call("init")
        placed = panel.call("order", model="instant:swatch", values={"prompt": "from the panel"})
        studio.get_order(placed["order_id"]).wait(30)
        assert host.ask("gallery") == "5"


def test_the_order_panels_rows_work_in_a_client(home, host, page):
    """A table attached in a client's Order panel is read through the host (studio.views.read_rows)
    and its order, one generation per row, runs there; a set's order records the set."""
    with inb.Studio(home) as studio:
        assert not studio.is_host
        panel = page(OrderController(studio))
        state = panel.call("init")
        assert {"card_deck", "tarot", "zodiac"} <= {s["name"] for s in state["sets"]}
        table = panel.call("attach_file", buffers=[b"animal\ncat\ndog\n"], name="animals.csv")["table"]
        assert table["count"] == 2 and table["columns"] == ["animal"]
        preview = panel.call("preview", model="instant:swatch", values={"prompt": "a {animal}"})
        assert [r["prompt"] for r in preview["rows"]] == ["a cat", "a dog"]
        placed = panel.call("order", model="instant:swatch", values={"prompt": "a {animal}"})
        studio.get_order(placed["order_id"]).wait(30)
        assert sorted(p.prompt for p in studio.get_order(placed["order_id"]).products) == ["a cat", "a dog"]
        out = panel.call("attach_set", name="zodiac", model="instant:swatch")
        values = {k: v for k, v in out["values"].items() if k in {f["name"] for f in out["form"]["fields"]}}
        placed = panel.call("order", model="instant:swatch", values={**values, "width": "16", "height": "16"})
        studio.get_order(placed["order_id"]).wait(60)
        rows = studio.sql("select set_name from set_products where order_id = ?", [placed["order_id"]])
        assert len(rows) == 12 and set(rows["set_name"]) == {"zodiac"}


def test_the_gallerys_score_sort_upscale_menu_and_training_check_work_in_a_client(home, host, page):
    """The Gallery's new requests (issues 15-17) go through the host: sort by a score, the
    upscalers and their scales, the training dry check and its errors at their fields."""
    with inb.Studio(home) as studio:
        order_id = host.ask("order a [red,blue] kite")
        ids = [p.id for p in studio.get_order(order_id).wait(60).products]
        gallery = page(GalleryController(studio))
        page_ = gallery.call("page", sort="clip_score")
        assert page_["sort"] == "clip_score" and {i["id"] for i in page_["items"]} == set(ids)
        assert gallery.call("page", filters={"scored": True})["total"] == 0
        menu = gallery.call("upscalers")
        assert any(m["id"] == "diffusers:tiny-esrgan" and m["scale"]["maximum"] == 4 for m in menu["models"])
        # instant:swatch products are not of diffusers:tiny's family: refused, at the products field
        refused = gallery.error("train_check", ids=ids, name="kites", base="diffusers:tiny", steps=3, rank=4)
        assert refused["field"] == "products" and "family" in refused["message"]
        assert gallery.error("train_check", ids=ids, name="-bad", base="diffusers:tiny", steps=3, rank=4)["field"] == "name"
