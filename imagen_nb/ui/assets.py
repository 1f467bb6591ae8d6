"""The panels' JavaScript and CSS, put together for a host (anywidget or Panel).

Each panel is one CSS file and either one script (``static/<panel>.js``) or a folder of ES
modules split by section (``static/<panel>/index.js`` and what it imports, built on the
vendored component base in ``static/lib/`` and ``static/vendor/``). There is no build step:
``common.js`` defines the shared helpers (``INB``: transport, timeouts, key isolation), the
:mod:`~imagen_nb.ui.linker` puts the ES modules in dependency order, and each panel registers a
mount function in ``INB.panels``. A host gets one module: common + the panels it shows + a
footer exporting ``render`` in the host's dialect.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from .linker import link

#: the folder of the panels' ESM and CSS files
STATIC = Path(__file__).with_name("static")
#: the panels, in the order the Studio widget shows their tabs
PANELS = ("projects", "order", "production", "gallery")

_FOOTERS = {
    # anywidget: render({model, el}) may return a cleanup function.
    "anywidget": "\nexport default { render({ model, el }) { return INB.mount(%r, INB.anywidgetTransport(model), el); } };\n",
    # Panel's JSComponent: render({model, el}); cleanup on the component's "remove" lifecycle event.
    # Outside JupyterLab the panels follow the system's dark mode (with a toggle).
    "panel": "\nexport function render({ model, el }) {\n"
             "  const cleanup = INB.mount(%r, INB.panelTransport(model), el, { theme: 'auto' });\n"
             "  model.on('remove', cleanup);\n}\n",
}


def _parts(entry: str) -> list[str]:
    if entry == "studio":
        return ["common", *PANELS, "studio"]
    if entry not in PANELS:
        raise ValueError(f"no panel {entry!r}; choose one of {', '.join(PANELS)} or 'studio'")
    return ["common", entry]


def _modular(name: str) -> bool:
    return (STATIC / name / "index.js").is_file()


@lru_cache(maxsize=None)
def esm(entry: str, host: str = "anywidget") -> str:
    """The ES module for ``entry`` (a panel name or ``"studio"``) in the dialect of ``host``."""
    parts = _parts(entry)
    linked = [f"{name}/index.js" for name in parts if _modular(name)]
    scripts = [(STATIC / f"{name}.js").read_text() for name in parts if not _modular(name)]
    body = scripts[0] + "\n" + (link(linked, STATIC) if linked else "") + "\n".join(scripts[1:])
    return body + _FOOTERS[host] % entry


@lru_cache(maxsize=None)
def css(entry: str) -> str:
    """The style sheet for ``entry``: the shared theme plus each panel's own rules."""
    return "\n".join((STATIC / f"{name}.css").read_text() for name in _parts(entry)
                     if (STATIC / f"{name}.css").exists())
