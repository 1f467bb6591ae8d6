"""The static snapshot a panel leaves in the notebook (ui/snapshot.py; issue 11, item 7): what it
says, what it weighs, and how it follows the Studio through display_id updates. The browser side
(hidden while live, shown instead of "model not found") is tests/ui/test_browser_snapshot.py."""

from __future__ import annotations

import base64
import io
import re
import time

import numpy as np
import pytest
from PIL import Image

from imagen_nb.ui.snapshot import RUN_LINE, THUMB_PX, THUMBS, Snapshot, SnapshotBuilder


def _imgs(html: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/webp;base64,([^"]+)"', html)]


def test_the_studio_snapshot_shows_counts_orders_projects_and_thumbnails(studio):
    studio.order("instant:swatch", prompt="a [red,blue] <b>kite</b>", seed="[1,2]", project="kites").wait()
    studio.order("instant:swatch", prompt="a green kite", seed=3).wait()
    html = SnapshotBuilder(studio, "studio").html()
    assert RUN_LINE in html and "imagen-nb · Studio" in html
    assert "1 project · 2 orders · 5 products" in html
    assert "a [red,blue] &lt;b&gt;kite&lt;/b&gt;" in html and "<b>kite" not in html, "text is escaped"
    assert "a green kite" in html and "kites" in html and "fulfilled" in html and "4 / 4" in html
    images = _imgs(html)
    assert len(images) == 5
    for data in images:
        with Image.open(io.BytesIO(data)) as im:
            assert im.format == "WEBP" and im.size == (THUMB_PX, THUMB_PX)
    # the rules that hide it while live, and hide the widget's error line when it is not
    assert ".jp-OutputArea-child:has(.inb-root) + .jp-OutputArea-child:has(.inb-snapshot)" in html


def test_failed_and_waiting_generations_are_counted(faulty_studio):
    faulty_studio.order("faulty:swatch", prompt="[x1,ok]").wait()
    html = SnapshotBuilder(faulty_studio, "production").html()
    assert "1 order · 1 product · 1 failed generation" in html
    assert "2 / 2, 1 failed" in html
    assert "<img" not in html, "the Production snapshot lists orders, not thumbnails"


T, O, P = 'class="inb-snap-thumbs"', 'class="inb-snap-orders"', 'class="inb-snap-projects"'


@pytest.mark.parametrize("panel, has, lacks", [
    ("gallery", [T], [O, P]), ("production", [O], [T, P]), ("order", [O], [T, P]), ("projects", [P], [O, T]),
])
def test_each_panel_snapshots_its_own_content(studio, panel, has, lacks):
    studio.order("instant:swatch", prompt="a kite", project="kites").wait()
    html = SnapshotBuilder(studio, panel).html()
    assert RUN_LINE in html and f'class="inb-snapshot inb-snapshot-{panel}"' in html
    for text in has:
        assert text in html
    for text in lacks:
        assert text not in html


def test_an_empty_studio_says_so(studio):
    html = SnapshotBuilder(studio, "studio").html()
    assert "0 projects · 0 orders · 0 products" in html and "No products yet." in html and "No orders yet." in html


def test_an_unknown_panel_is_refused(studio):
    with pytest.raises(ValueError, match="no panel 'galery'"):
        SnapshotBuilder(studio, "galery")


def test_a_snapshot_stays_small_with_full_size_images(studio, tmp_path):
    """What a snapshot costs in the notebook file: at most THUMBS thumbnails of THUMB_PX pixels."""
    rng = np.random.default_rng(0)
    paths = []
    for i in range(THUMBS + 4):
        path = tmp_path / f"photo{i}.png"
        # smooth gradients plus noise: closer to a photo than a flat swatch
        base = np.linspace(0, 255, 512, dtype=np.float32)[None, :, None] * rng.random(3, dtype=np.float32)
        pixels = np.clip(base + rng.normal(0, 40, (512, 512, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(path)
        paths.append(path)
    studio.import_products(paths)
    html = SnapshotBuilder(studio, "studio").html()
    assert len(_imgs(html)) == THUMBS, "only the newest products are shown"
    assert len(html.encode()) < 64_000, f"a snapshot weighs {len(html.encode()):,} bytes"


class Published:
    """Collects what a Snapshot publishes (the display bundles), as IPython would send them."""

    def __init__(self):
        self.calls: list[tuple[dict, str, bool]] = []

    def __call__(self, bundle, display_id, update):
        self.calls.append((bundle, display_id, update))

    def wait_for(self, predicate, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        raise AssertionError(f"never published the expected update: {[c[2] for c in self.calls]}")


def test_the_snapshot_follows_the_studio_through_display_id_updates(studio):
    published = Published()
    snapshot = Snapshot(studio, "studio", schedule=lambda fn: fn(), publish=published, interval=0.05)
    try:
        snapshot.show()
        (bundle, display_id, update), = published.calls
        assert not update and display_id == snapshot.display_id
        assert "0 products" in bundle["text/html"] and RUN_LINE in bundle["text/plain"]

        studio.order("instant:swatch", prompt="a [red,blue] kite").wait()
        published.wait_for(lambda: "2 products" in published.calls[-1][0]["text/html"])
        assert all(c[2] and c[1] == display_id for c in published.calls[1:]), "later ones are updates"
        assert len(published.calls) <= 4, "updates are throttled and sent only when the content changed"

        sent = len(published.calls)
        snapshot.stale()  # nothing changed: nothing is sent
        time.sleep(0.3)
        assert len(published.calls) == sent and snapshot.updates == sent - 1

        snapshot.close()
        studio.order("instant:swatch", prompt="a gold kite").wait()
        time.sleep(0.3)
        assert len(published.calls) == sent, "a closed widget's snapshot no longer follows"
    finally:
        snapshot.close()


def test_a_widget_shows_no_snapshot_outside_a_kernel(studio):
    """In a terminal (no kernel) the widget displays as before, without the snapshot output."""
    from IPython.utils.capture import capture_output

    widget = studio.widget()
    with capture_output() as captured:
        widget._ipython_display_()
    assert widget.snapshot is None
    assert RUN_LINE not in captured.stdout
