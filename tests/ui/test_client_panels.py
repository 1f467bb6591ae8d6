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
