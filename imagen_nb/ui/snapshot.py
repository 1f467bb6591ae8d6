"""A static picture of a panel, saved in the notebook beside the live widget.

A widget's view lives in the kernel: a notebook reopened without it (kernel shut down, file
sent to someone) shows JupyterLab's "Error displaying widget: model not found". So each time a
panel is displayed in a kernel, a second output follows the widget: an HTML **snapshot** of
what the panel holds (counts, recent orders, projects, the newest products as small inline
thumbnails) and the line "Run this cell to open the live panel".

- While the live panel is on the page, CSS hides the snapshot (``:has()``: the output after an
  output holding ``.inb-root``); the rule is in the snapshot's own ``<style>`` and in
  ``common.css``, so it holds in untrusted outputs too, whose ``<style>`` Lab's sanitizer drops.
- When the panel is not there (loading, or its model is gone), the snapshot's ``<style>`` hides
  the widget output's text ("Error displaying widget: model not found") and shows the snapshot.
  An untrusted notebook (opened on another machine) shows the snapshot unstyled, below the error.
- It is kept current through a ``display_id`` update: Studio events, requests from the panel and
  finished cells mark it stale; it is rebuilt at most every :data:`INTERVAL` seconds and sent
  only when its content changed, so the saved notebook holds the panel's last state.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import threading
import uuid
from collections import OrderedDict
from datetime import datetime
from importlib.metadata import version
from typing import Any, Callable

from ..core.records import Event, GenerationFinished, OrderFinished, OrderQueued
from .bridge import Throttle
from .thumbs import row_thumb

log = logging.getLogger(__name__)

#: seconds between two snapshot updates at most (an update resends the whole snapshot)
INTERVAL = 3.0
#: newest products shown as thumbnails, and their size in pixels (a side)
THUMBS = 12
THUMB_PX = 64
#: rows of recent orders and of projects
ORDERS = 5
PROJECTS = 5
#: the line that tells what to do
RUN_LINE = "Run this cell to open the live panel."

TITLES = {"studio": "Studio", "projects": "Projects", "order": "Order", "production": "Production",
          "gallery": "Gallery"}
# What each panel's snapshot shows, top to bottom.
SECTIONS = {
    "studio": ("counts", "thumbs", "orders", "projects"),
    "projects": ("counts", "projects"),
    "order": ("counts", "orders"),
    "production": ("counts", "orders"),
    "gallery": ("counts", "thumbs"),
}

# Shown only where outputs may carry a <style> (trusted ones). The first rule is also in
# common.css. The second hides the widget output's own text while the panel is not mounted
# ("Loading widget...", "Error displaying widget: model not found") when a snapshot follows it:
# JupyterLab's widget renderer is a Lumino panel without the data-mime-type attribute that its
# own renderers (HTML, text, images) carry.
STYLE = f"""
.jp-OutputArea-child:has(.inb-root) + .jp-OutputArea-child:has(.inb-snapshot) {{ display: none; }}
.jp-OutputArea-child:has(> .jp-OutputArea-output.lm-Panel:not([data-mime-type])):not(:has(.inb-root)):has(+ .jp-OutputArea-child .inb-snapshot) {{ display: none; }}
.inb-snapshot {{ font-family: var(--jp-ui-font-family, system-ui, sans-serif); font-size: 12px; line-height: 1.45;
  color: var(--jp-ui-font-color1, #1b1f27); border: 1px solid var(--jp-border-color2, #dfe3ea); border-radius: 8px;
  padding: 8px 12px; max-width: 100%; box-sizing: border-box; background: var(--jp-layout-color1, #fff); }}
.inb-snapshot .inb-snap-head {{ display: flex; gap: 8px; align-items: baseline; flex-wrap: wrap; }}
.inb-snapshot .inb-snap-brand {{ font-weight: 600; }}
.inb-snapshot .inb-snap-when {{ color: var(--jp-ui-font-color2, #5b6472); }}
.inb-snapshot .inb-snap-run {{ margin: 6px 0; padding: 4px 8px; border-radius: 5px; font-weight: 600;
  background: var(--jp-brand-color3, #ececfb); color: var(--jp-ui-font-color1, #1b1f27); }}
.inb-snapshot .inb-snap-counts {{ margin: 4px 0; color: var(--jp-ui-font-color2, #5b6472); }}
.inb-snapshot .inb-snap-thumbs {{ display: flex; flex-wrap: wrap; gap: 4px; margin: 6px 0; }}
.inb-snapshot .inb-snap-thumbs img {{ width: {THUMB_PX}px; height: {THUMB_PX}px; object-fit: cover; border-radius: 4px;
  background: var(--jp-layout-color2, #eef0f4); }}
.inb-snapshot table {{ border-collapse: collapse; margin: 6px 0; width: 100%; table-layout: fixed; }}
.inb-snapshot table caption {{ text-align: left; font-weight: 600; padding: 2px 0; }}
.inb-snapshot.inb-snapshot table td, .inb-snapshot.inb-snapshot table th {{ text-align: left; padding: 2px 6px; border-top: 1px solid var(--jp-border-color2, #dfe3ea);
  overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }}
.inb-snapshot.inb-snapshot table th {{ font-weight: 500; color: var(--jp-ui-font-color2, #5b6472); }}
"""


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _text(value: Any, limit: int = 120) -> str:
    text = "" if value is None or value != value else str(value)  # None or NaN
    return html.escape(text if len(text) <= limit else text[: limit - 1] + "…")


def _when(value: Any) -> str:
    try:  # a pandas Timestamp or a datetime, shown in the kernel's local time
        value = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
        return value.astimezone().strftime("%Y-%m-%d %H:%M")
    except (AttributeError, TypeError, ValueError, OSError):  # None, NaT
        return ""


class SnapshotBuilder:
    """Builds a panel's snapshot HTML from the Studio facade (so it works in a host and a client)."""

    def __init__(self, studio, panel: str):
        if panel not in SECTIONS:
            raise ValueError(f"no panel {panel!r}; choose one of {', '.join(SECTIONS)}")
        self.studio = studio
        self.panel = panel
        self._thumbs: OrderedDict[str, str] = OrderedDict()  # product id → data URL (small, re-encoded once)

    def body(self) -> str:
        """The snapshot without its time stamp (what is compared to decide whether to send it)."""
        parts = []
        for section in SECTIONS[self.panel]:
            try:
                parts.append(getattr(self, f"_section_{section}")())
            except Exception:  # a section that cannot be read now is left out, never the whole snapshot
                log.debug("snapshot section %s failed", section, exc_info=True)
        return "".join(parts)

    def html(self, body: str | None = None, when: datetime | None = None) -> str:
        """The whole snapshot: style, heading with the time it was taken, the run line, the body."""
        body = self.body() if body is None else body
        when = (when or datetime.now()).astimezone().strftime("%Y-%m-%d %H:%M")
        return (f'<div class="inb-snapshot inb-snapshot-{self.panel}"><style>{STYLE}</style>'
                f'<div class="inb-snap-head"><span class="inb-snap-brand">◆ imagen-nb · {TITLES[self.panel]}</span> '
                f'<span class="inb-snap-when">snapshot of {when} · imagen-nb {version("imagen-nb")}</span></div>'
                f'<p class="inb-snap-run">{RUN_LINE}</p>{body}</div>')

    def text(self) -> str:
        """The plain-text form (for frontends that show no HTML)."""
        return f"imagen-nb {TITLES[self.panel]} (snapshot). {RUN_LINE}"

    # -- sections ---------------------------------------------------------------------------
    def _section_counts(self) -> str:
        studio = self.studio
        orders = int(studio.sql("select count(*) as n from orders where deleted_at is null")["n"].iloc[0])
        gens = studio.sql("select status, count(*) as n from generations where deleted_at is null group by status")
        by_status = dict(zip(gens["status"], gens["n"].astype(int)))
        running = by_status.get("pending", 0) + by_status.get("generating", 0)
        failed = by_status.get("failed", 0)
        bits = [_plural(len(studio.projects()), "project"), _plural(orders, "order"),
                _plural(studio.gallery_count(), "product")]
        if running:
            bits.append(f"{running:,} waiting or running")
        if failed:
            bits.append(_plural(failed, "failed generation"))
        return f'<p class="inb-snap-counts">{" · ".join(bits)}</p>'

    def _section_thumbs(self) -> str:
        rows = self.studio.gallery(limit=THUMBS)
        if not len(rows):
            return '<p class="inb-snap-counts">No products yet.</p>'
        imgs = []
        for row in rows.to_dict("records"):
            url = self._thumb_url(row)
            if url:
                imgs.append(f'<img src="{url}" width="{THUMB_PX}" height="{THUMB_PX}" '
                            f'alt="{_text(row.get("prompt"), 80)}" title="{_text(row.get("prompt"), 200)}">')
        return f'<div class="inb-snap-thumbs" aria-label="Newest products">{"".join(imgs)}</div>'

    def _section_orders(self) -> str:
        orders = self.studio.views.order_summaries(limit=ORDERS)
        if not len(orders):
            return '<p class="inb-snap-counts">No orders yet.</p>'
        rows = []
        for o in orders.to_dict("records"):
            done = int(o["complete"]) + int(o["failed"]) + int(o["cancelled"])
            failed = f", {int(o['failed'])} failed" if o["failed"] else ""
            rows.append(f"<tr><td>{_when(o['created_at'])}</td><td>{_text(o['model'], 60)}</td>"
                        f"<td>{_text(o['prompt'])}</td><td>{_text(o['status'])}</td>"
                        f"<td>{done:,} / {int(o['generation_count']):,}{failed}</td><td>{_text(o['project'], 40)}</td></tr>")
        return ('<table class="inb-snap-orders"><caption>Recent orders</caption>'
                '<tr><th style="width: 10.5em">ordered</th><th style="width: 20%">model</th><th>prompt</th>'
                '<th style="width: 6em">status</th><th style="width: 7em">done</th><th style="width: 14%">project</th></tr>'
                + "".join(rows) + "</table>")

    def _section_projects(self) -> str:
        projects = self.studio.projects()
        if not len(projects):
            return ""
        projects = projects.sort_values("last_activity", ascending=False, na_position="last").head(PROJECTS)
        rows = "".join(f"<tr><td>{_text(p['name'], 60)}</td><td>{int(p['orders']):,}</td><td>{int(p['products']):,}</td>"
                       f"<td>{_when(p['last_activity'])}</td></tr>" for p in projects.to_dict("records"))
        return ('<table class="inb-snap-projects"><caption>Projects</caption>'
                '<tr><th>project</th><th style="width: 6em">orders</th><th style="width: 6em">products</th>'
                '<th style="width: 10.5em">last activity</th></tr>' + rows + "</table>")

    def _thumb_url(self, row: dict) -> str | None:
        pid = str(row.get("product_id"))
        url = self._thumbs.get(pid)
        if url is None:
            thumb = row_thumb(row, self.studio.home)
            if thumb is None:
                return None
            url = "data:image/webp;base64," + base64.b64encode(small_webp(thumb.data)).decode("ascii")
            self._thumbs[pid] = url
            while len(self._thumbs) > 4 * THUMBS:
                self._thumbs.popitem(last=False)
        return url


def small_webp(data: bytes, size: int = THUMB_PX) -> bytes:
    """A WEBP of image bytes cropped to a square of ``size`` pixels (what a snapshot tile shows)."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as im:
        im = ImageOps.fit(im.convert("RGBA" if im.mode in ("RGBA", "LA", "P") else "RGB"), (size, size))
        out = io.BytesIO()
        im.save(out, format="WEBP", quality=70)
        return out.getvalue()


def _publish(bundle: dict, display_id: str, update: bool) -> None:
    from IPython.display import display, update_display

    if update:
        update_display(bundle, raw=True, display_id=display_id)
    else:
        display(bundle, raw=True, display_id=display_id)


class Snapshot:
    """One panel's snapshot output in a kernel: shown after the widget, updated while it lives.

    Args:
        studio: the Studio the panel shows.
        panel: ``"studio"`` or a panel name.
        schedule: runs a function on the kernel's IO loop (where display messages are sent).
        publish: sends a display bundle (``update=True``: a ``display_id`` update); IPython's by default.
    """

    def __init__(self, studio, panel: str, schedule: Callable[[Callable[[], None]], None],
                 publish: Callable[[dict, str, bool], None] = _publish, interval: float = INTERVAL):
        self.builder = SnapshotBuilder(studio, panel)
        self.display_id = f"imagen-nb-snapshot-{uuid.uuid4().hex}"
        self.publish = publish
        self.throttle = Throttle(self.refresh, schedule, interval)
        self.updates = 0  # display_id updates sent
        self._body: str | None = None
        self._subscription = None
        self._lock = threading.Lock()
        self._hooked = None

    def bundle(self, body: str) -> dict:
        """The display bundle of a snapshot body."""
        return {"text/html": self.builder.html(body), "text/plain": self.builder.text()}

    def show(self) -> None:
        """Display the snapshot (after the widget) and start following the Studio."""
        body = self.builder.body()
        self._body = body
        self.publish(self.bundle(body), self.display_id, False)
        self._follow()

    def refresh(self) -> None:
        """Rebuild the snapshot and send it when its content changed (runs on the UI loop)."""
        body = self.builder.body()
        if body == self._body:
            return
        self._body = body
        self.updates += 1
        self.publish(self.bundle(body), self.display_id, True)

    def stale(self, *_args: Any) -> None:
        """Note that the panel's content may have changed: a refresh follows, throttled."""
        if self._body is not None:
            self.throttle.poke()

    def _on_event(self, event: Event) -> None:
        if isinstance(event, (OrderQueued, GenerationFinished, OrderFinished)):
            self.stale()

    def _follow(self) -> None:
        with self._lock:
            if self._subscription is None:
                self._subscription = self.builder.studio.subscribe(self._on_event)
            if self._hooked is None:
                try:  # cells that change the catalog from Python (a new project, a rating)
                    from IPython import get_ipython

                    shell = get_ipython()
                    if shell is not None:
                        shell.events.register("post_run_cell", self.stale)
                        self._hooked = shell
                except ImportError:
                    pass

    def close(self) -> None:
        """Stop following the Studio (the snapshot already shown stays as it is)."""
        with self._lock:
            if self._subscription is not None:
                self._subscription.close()
                self._subscription = None
            if self._hooked is not None:
                try:
                    self._hooked.events.unregister("post_run_cell", self.stale)
                except ValueError:
                    pass
                self._hooked = None
        self.throttle.close()
