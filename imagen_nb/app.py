"""The panels as a Panel app: the same JavaScript and controllers as in JupyterLab, with no Jupyter.

``imagen-nb serve`` serves it on 127.0.0.1; ``panel serve notebooks/studio.ipynb`` serves the
notebook that builds it. Every browser tab gets its own panels over one shared Studio (one
process owns a home at a time).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any, Callable, Sequence

import panel as pn
import param
from panel.custom import JSComponent

from .ui import assets
from .ui.bridge import Controller
from .ui.gallery import GalleryController
from .ui.order import OrderController
from .ui.production import ProductionController
from .ui.projects import ProjectsController
from .ui.shell import ShellController
from .web.components import ROUTE as COMPONENTS_ROUTE
from .web.components import KnownComponentAssets
from .web.headers import SecurityHeaders
from .web.hosts import install_host_gate, served_hosts
from .web.clients import trusted_proxies as parse_trusted_proxies
from .web.login import PasswordAuth

log = logging.getLogger(__name__)

_CONTROLLERS: dict[str, Callable[[Any], list[Controller]]] = {
    "studio": lambda s: [ShellController(s), ProjectsController(s), OrderController(s),
                         ProductionController(s), GalleryController(s)],
    "projects": lambda s: [ProjectsController(s)],
    "order": lambda s: [OrderController(s)],
    "production": lambda s: [ProductionController(s)],
    "gallery": lambda s: [GalleryController(s)],
}


# In a browser tab of its own the panels take the whole window (in a notebook they keep a
# comfortable fixed height and scroll inside).
_FULL_PAGE = """
:host { display: block; width: 100%; }
.inb-root { height: calc(100vh - 26px); display: flex; flex-direction: column; }
.inb-root > .inb-panel, .inb-studio .inb-tabbody > .inb-panel { max-height: none; height: 100%; }
.inb-tabstack { flex: 1; min-height: 0; }
.inb-tabbody { height: 100%; }
"""


class _ComponentTransport:
    def __init__(self, component: "PanelHost"):
        self.component = component
        # The session's document: updates from worker threads are handed to its event loop.
        self.doc = pn.state.curdoc

    def send(self, content: dict, buffers: Sequence[bytes] = ()) -> None:
        self.component._send_msg({"content": content, "buffers": [bytes(b) for b in buffers]})

    def schedule(self, fn: Callable[[], None]) -> None:
        if self.doc is None or self.doc.session_context is None:
            fn()  # not served (a script or a notebook cell): nobody else owns the models
        else:
            self.doc.add_next_tick_callback(fn)


class PanelHost(JSComponent):
    """A Panel component showing one panel (or all four as tabs) over a Studio."""

    entry = param.Selector(default="studio", objects=list(_CONTROLLERS), constant=True)

    _esm = assets.esm("studio", "panel")
    _stylesheets = [assets.css("studio"), _FULL_PAGE]

    def __init__(self, studio, **params):
        params.setdefault("sizing_mode", "stretch_width")
        super().__init__(**params)
        self.studio = studio
        self.controllers = {c.name: c for c in _CONTROLLERS[self.entry](studio)}
        transport = _ComponentTransport(self)
        for controller in self.controllers.values():
            controller.attach(transport)

    def _handle_msg(self, data: Any) -> None:
        if not isinstance(data, dict) or not isinstance(data.get("content"), dict):
            return
        content = data["content"]
        controller = self.controllers.get(content.get("panel"))
        if controller is not None:
            controller.handle(content, [bytes(b) for b in data.get("buffers") or []])

    def close(self) -> None:
        """Stop following the Studio (called when the browser session ends)."""
        for controller in self.controllers.values():
            controller.close()


def _panel_host_class(entry: str) -> type[PanelHost]:
    if entry == "studio":
        return PanelHost
    return type(f"{entry.title()}PanelHost", (PanelHost,), {
        "_esm": assets.esm(entry, "panel"),
        "_stylesheets": [assets.css(entry), _FULL_PAGE],
    })


def studio_app(studio, entry: str = "studio") -> pn.viewable.Viewable:
    """The Panel app for ``studio``: the four panels as tabs (or one, by ``entry``).

    >>> studio_app(inb.Studio()).servable()      # in a notebook served with `panel serve`
    """
    if entry not in _CONTROLLERS:
        raise ValueError(f"no panel {entry!r}; choose one of {', '.join(_CONTROLLERS)}")
    host = _panel_host_class(entry)(studio, entry=entry)
    if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
        pn.state.on_session_destroyed(lambda _ctx: host.close())
    return pn.Column(host, sizing_mode="stretch_width", styles={"padding": "12px"})


PLUGIN = "imagen_nb.web.panel_plugin"


def unprotected_panel_serve() -> str | None:
    """In a ``panel serve`` session started without ``--plugins imagen_nb.web.panel_plugin``, the
    message the studio notebook shows instead of the app (Panel's ``/components/`` route imported
    any module a URL named until this session began: it is closed now, but was open since the
    server started); None in a kernel, or when the plugin was loaded at start."""
    from .web import panel_plugin

    served = pn.state.curdoc is not None and pn.state.curdoc.session_context is not None
    if not served or panel_plugin.installed() and panel_plugin.loaded_at_start:
        return None
    panel_plugin.install()
    return ("**This server was started without imagen-nb's protection.** `panel serve` alone answers "
            "`/components/…` URLs by importing any Python module the URL names, for anyone who can reach "
            "the port, so the studio is not shown here. Stop it and start it again as\n\n"
            f"`panel serve notebooks/studio.ipynb --plugins {PLUGIN}`\n\n"
            "or use `imagen-nb serve` (which also has a login: `--password`).")


def serve(studio, *, address: str = "127.0.0.1", port: int = 5006, password: str | None = None,
          show: bool = False, allow_websocket_origin: Sequence[str] | None = None,
          trusted_proxies: Sequence[str] | None = None, **kwargs) -> Any:
    """Serve the Studio app until interrupted (blocks). ``password`` turns on a login page; use it
    whenever ``address`` is not a loopback one.

    The app answers only under the served ``address:port`` (any loopback name when ``address``
    is one) and the names in ``allow_websocket_origin`` (a reverse proxy's), to no other web
    page; Panel's ``/components/`` route never imports a module; every response carries frame
    and content-security headers. ``trusted_proxies``: addresses or networks of the reverse
    proxies in front of the app; only requests from them may name the client in
    ``X-Forwarded-For`` (for the login throttle). None by default. See :mod:`imagen_nb.web`.
    """
    extra = list(allow_websocket_origin or ())
    proxies = parse_trusted_proxies(trusted_proxies)  # a bad value fails before binding
    hosts = served_hosts(address, port, extra)  # a bad --allow-websocket-origin fails before binding
    pn.extension(design=None)
    options: dict[str, Any] = dict(
        address=address, port=port, show=False, start=False, title="imagen-nb", threaded=False,
        # No pn.state.location: the app does not use it, and Panel cannot parse an IPv6 Host
        # ("[::1]:5006"), which made every page on ::1 fail with a 500.
        location=False,
        # Bokeh's own websocket check, kept consistent with the gate (it cannot parse IPv6 names).
        websocket_origin=sorted(h for h in hosts if not h.startswith("[")),
        # Ours comes first, so Panel's importing /components/ handler is never reached.
        extra_patterns=[(COMPONENTS_ROUTE, KnownComponentAssets)], **kwargs)
    if password:
        options.update(auth_provider=PasswordAuth(password, assets.STATIC / "login.html",
                                                  assets.STATIC / "logout.html", trusted_proxies=proxies),
                       cookie_secret=secrets.token_urlsafe(32))
    server = pn.serve({"/": lambda: studio_app(studio)}, **options)
    shown = "localhost" if address in ("", "0.0.0.0", "::") else address
    url = f"http://{'[' + shown + ']' if ':' in shown else shown}:{server.port}/"
    # Bokeh keeps the tornado application private, but the gate and the headers must wrap every
    # route, Panel's and Bokeh's included.
    tornado_app = server._tornado
    install_host_gate(tornado_app, served_hosts(address, server.port, extra), url)
    tornado_app.add_transform(SecurityHeaders)
    server.start()
    if show:
        server.io_loop.add_callback(server.show, "/")
    server.io_loop.start()
    return server
