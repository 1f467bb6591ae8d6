"""``panel serve notebooks/studio.ipynb --plugins imagen_nb.web.panel_plugin``: Panel's own server
without its module-importing ``/components/`` route.

Panel registers ``/components/<module>/<class>/<attribute>/<file>`` in every ``panel serve``,
and its handler imports whatever module the URL names, for anyone who can reach the port (one
GET of ``/components/imagen_nb.__main__/x/__css__/y`` used to run the command line inside the
server and end it). ``imagen-nb serve`` puts its own handler in front (:mod:`.components`);
``panel serve`` has no such hook, so this plugin, imported by ``--plugins`` when the server
starts (before it answers anything), makes Panel's handler serve only assets of component
classes whose module is already loaded: it never imports a module. Panel requires a ``ROUTES``
list of a plugin; this one adds none.

The studio notebook refuses to show the app in a ``panel serve`` session that was started
without this plugin (:func:`imagen_nb.app.unprotected_panel_serve`).
"""

from __future__ import annotations

from panel.io.server import ComponentResourceHandler
from panel.io.state import state as _state
from tornado.web import HTTPError

from .components import loaded_component

#: Panel's plugin protocol: extra routes (none).
ROUTES: list = []

_panel_parse_url_path = getattr(ComponentResourceHandler, "_imagen_nb_panel_parse", None) \
    or ComponentResourceHandler.parse_url_path


def _parse_url_path(self, path: str) -> str:
    """Panel's lookup, for a component class already loaded only (404 for anything else)."""
    parts = path.split("/")
    if len(parts) < 4 or loaded_component(parts[0], parts[1]) is None:
        raise HTTPError(404, "no such component asset")
    return _panel_parse_url_path(self, path)


def install() -> None:
    """Make Panel's ``/components/`` handler never import a module (idempotent)."""
    if not installed():
        ComponentResourceHandler._imagen_nb_panel_parse = _panel_parse_url_path
        ComponentResourceHandler.parse_url_path = _parse_url_path


def installed() -> bool:
    """Whether Panel's ``/components/`` handler is the safe one."""
    return ComponentResourceHandler.parse_url_path is _parse_url_path


#: True when this module was imported outside any session: by ``--plugins`` as the server started
loaded_at_start = getattr(_state.curdoc, "session_context", None) is None

install()
