"""The panels as anywidgets for JupyterLab: each alone, or the four together as tabs."""

from __future__ import annotations

import logging
from typing import Callable, Sequence

import anywidget

from . import assets
from .bridge import Controller
from .gallery import GalleryController
from .order import OrderController
from .production import ProductionController
from .projects import ProjectsController
from .shell import ShellController
from .snapshot import Snapshot

log = logging.getLogger(__name__)


def kernel_schedule(fn: Callable[[], None]) -> None:
    """Run ``fn`` on the kernel's IO loop (comm sends belong there), or at once outside a kernel."""
    try:
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
    except ImportError:  # no IPython: a plain script or a test
        kernel = None
    loop = getattr(kernel, "io_loop", None)
    if loop is None:
        fn()
    else:
        loop.add_callback(fn)


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return getattr(get_ipython(), "kernel", None) is not None


class _WidgetTransport:
    def __init__(self, widget: anywidget.AnyWidget):
        self.widget = widget

    def send(self, content: dict, buffers: Sequence[bytes] = ()) -> None:
        if self.widget.comm is not None:
            self.widget.send(content, list(buffers) or None)

    def schedule(self, fn: Callable[[], None]) -> None:
        kernel_schedule(fn)


class _Host(anywidget.AnyWidget):
    """An anywidget that routes each message to the controller of the panel it names."""

    _entry = ""

    def __init__(self, studio, **kwargs):
        super().__init__(**kwargs)
        self.studio = studio
        self.controllers: dict[str, Controller] = {c.name: c for c in self._controllers(studio)}
        transport = _WidgetTransport(self)
        for controller in self.controllers.values():
            controller.attach(transport)
        self.on_msg(self._route)
        self.snapshot: Snapshot | None = None  # made on the first display in a kernel (snapshot.py)

    @staticmethod
    def _controllers(studio) -> list[Controller]:
        """The controllers of the panels this host shows (set by each host)."""
        return []

    def _route(self, _widget, content, buffers) -> None:
        if not isinstance(content, dict):
            return
        controller = self.controllers.get(content.get("panel"))
        if controller is not None:
            controller.handle(content, buffers or ())
            if self.snapshot is not None:  # a click may have changed what the panel holds
                self.snapshot.stale()

    def __repr__(self) -> str:
        # the text a frontend shows when it cannot draw the widget (an untrusted notebook)
        return f"<imagen-nb {type(self).__name__} panel>"

    def _ipython_display_(self) -> None:
        """Show the live widget and, in a kernel, its static snapshot right after it (the output a
        notebook reopened without its kernel shows instead of "model not found")."""
        from IPython.display import display

        bundle = self._repr_mimebundle_()  # anywidget's is (data, metadata)
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        display(data, metadata=metadata, raw=True)
        if not _in_kernel():
            return
        if self.snapshot is None:
            self.snapshot = Snapshot(self.studio, self._entry, kernel_schedule)
        try:
            self.snapshot.show()
        except Exception:  # the live widget is what matters; a snapshot that fails is left out
            log.warning("could not draw the panel's snapshot", exc_info=True)

    @property
    def selected(self) -> list:
        """The products selected in the Gallery (as shown), as Product handles; ``[]`` when none
        (or when this widget has no Gallery). ``studio.gallery(ids=[p.id for p in w.selected])``
        gives them as a DataFrame."""
        gallery = self.controllers.get("gallery")
        if gallery is None or not gallery.selection:
            return []
        return self.studio.products(gallery.selection)

    def attach_rows(self, rows, name: str = "rows from Python") -> dict:
        """Attach a table to the Order panel: one generation per row, ``{column}`` placeholders in
        any field (a DataFrame, a .csv/.tsv/.json/.jsonl/.parquet path or a list of dicts).

        >>> inb.OrderPanel(studio).attach_rows(cards)      # or studio.widget().show(rows=cards)
        """
        order = self.controllers.get("order")
        if order is None:
            raise TypeError("this widget has no Order panel; use inb.OrderPanel(studio) or studio.widget()")
        return order.attach_rows(rows, name)

    def close(self) -> None:
        """Stop following the Studio and close the widget's views."""
        for controller in self.controllers.values():
            controller.close()
        if self.snapshot is not None:
            self.snapshot.close()
        super().close()


def _host(entry: str, doc: str, make: Callable) -> type[_Host]:
    cls = type(entry.title(), (_Host,), {
        "__doc__": doc, "_entry": entry, "_esm": assets.esm(entry), "_css": assets.css(entry),
        "_controllers": staticmethod(make),
    })
    return cls


Projects = _host("projects", "The Projects panel: project cards with counts; create, rename, archive; jump to "
                 "Order or Gallery.\n\n>>> inb.Projects(studio)", lambda s: [ProjectsController(s)])
OrderPanel = _host("order", "The Order panel: a model's form with SmartParameters, live expansion preview, "
                   "presets and the session's products.\n\n>>> inb.OrderPanel(studio)", lambda s: [OrderController(s)])
Production = _host("production", "The Production panel: recent orders and their generations, live, with cancel and "
                   "retry.\n\n>>> inb.Production(studio)", lambda s: [ProductionController(s)])
Gallery = _host("gallery", "The Gallery panel: thumbnails with search, filters, details, rating, collections and "
                "bulk actions.\n\n>>> inb.Gallery(studio)", lambda s: [GalleryController(s)])


class StudioWidget(_Host):
    """The four panels as tabs (Projects | Order | Production | Gallery): what ``studio`` shows in a cell.

    >>> studio.widget().show("gallery", project="cats")
    """

    _entry = "studio"
    _esm = assets.esm("studio")
    _css = assets.css("studio")

    @staticmethod
    def _controllers(studio) -> list[Controller]:
        return [ShellController(studio), ProjectsController(studio), OrderController(studio),
                ProductionController(studio), GalleryController(studio)]

    def show(self, tab: str | None = None, **payload) -> "StudioWidget":
        """Switch to a tab, e.g. ``show("gallery", project="cats")`` or ``show("order", product=id)``;
        ``show(rows=cards)`` attaches a table (a DataFrame…) to the Order panel.

        Without a tab it follows what is given: ``show(order=o)`` opens the order in Production,
        ``show(product=p)`` re-orders the product in Order, ``show(project="cats")`` its Gallery.
        """
        rows = payload.pop("rows", None)
        if rows is not None:  # a table for the Order panel (a DataFrame cannot travel as a payload)
            self.attach_rows(rows)
            tab = tab or "order"
        if tab is None:
            tab = ("production" if "order" in payload else "order" if "product" in payload
                   else "gallery" if "project" in payload else None)
            if tab is None:
                raise TypeError("show() needs a tab ('projects', 'order', 'production', 'gallery') or one of "
                                "order=, product=, project=")
        self.controllers["studio"].navigate(tab, payload)
        return self
