"""Panel's ``/components/<module>/<class>/<attribute>/<file>`` asset route, made safe.

Panel's own handler imports whatever module the URL names, before any login: one request for
``/components/imagen_nb.__main__/…`` ran the command line inside the server and ended it, and
any installed package with side effects on import could be triggered the same way. This one
never imports: it serves only the listed assets of component classes whose module is already
loaded, looked up without running module code, and only to a signed-in user.
"""

from __future__ import annotations

import re
import sys

import param
from bokeh.model import Model
from panel.io.server import AuthenticatedStaticFileHandler, ComponentResourceHandler
from tornado.web import HTTPError

#: The URL route this handler takes over (Panel adds its own after ours; the first match wins).
ROUTE = r"/components/(.*)"

_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def loaded_component(module_name: str, class_name: str) -> type | None:
    """The component class ``module_name.class_name`` if its module is already imported and it
    is a Panel/param or Bokeh class; ``None`` otherwise. Imports nothing and runs no module
    ``__getattr__``."""
    if not (_DOTTED.fullmatch(module_name) and class_name.isidentifier()):
        return None
    module = sys.modules.get(module_name)
    if module is None:
        return None
    found = vars(module).get(class_name)
    if isinstance(found, type) and issubclass(found, (param.Parameterized, Model)):
        return found
    return None


class KnownComponentAssets(AuthenticatedStaticFileHandler, ComponentResourceHandler):
    """Serves a file listed on a loaded component class, to a signed-in user; 404 for anything
    else (an unloaded module, a non-component, an unlisted file)."""

    def parse_url_path(self, path: str) -> str:
        """The file ``path`` names, once its component is known to be loaded (404 otherwise)."""
        parts = path.split("/")
        if len(parts) < 4 or loaded_component(parts[0], parts[1]) is None:
            raise HTTPError(404, "no such component asset")
        return super().parse_url_path(path)
