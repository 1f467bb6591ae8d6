"""`panel serve notebooks/studio.ipynb`: the plugin that closes Panel's importing /components/ route, and
the notebook's refusal without it (the served probes are in tests/reliability/test_http_probes.py)."""

from __future__ import annotations

import pytest

pytest.importorskip("panel", reason="needs the panel extra")


def test_the_studio_notebook_refuses_a_panel_serve_started_without_the_plugin(monkeypatch):
    """In a `panel serve` session without `--plugins imagen_nb.web.panel_plugin` the notebook shows
    how to restart safely, and Panel's /components/ handler stops importing modules from then on."""
    import panel as pn
    from panel.io.server import ComponentResourceHandler
    from bokeh.document import Document

    from imagen_nb.app import unprotected_panel_serve
    from imagen_nb.web import panel_plugin

    assert unprotected_panel_serve() is None  # in a kernel: nothing to refuse
    doc = Document()
    session = object()
    doc._session_context = lambda: session  # what a server session has (Bokeh sets a weakref)
    monkeypatch.setattr(panel_plugin, "loaded_at_start", False)
    with pn.io.server.set_curdoc(doc):
        message = unprotected_panel_serve()
        assert message and "--plugins imagen_nb.web.panel_plugin" in message and "imagen-nb serve" in message
        assert ComponentResourceHandler.parse_url_path is panel_plugin._parse_url_path
        monkeypatch.setattr(panel_plugin, "loaded_at_start", True)
        assert unprotected_panel_serve() is None  # started with the plugin: the app is shown
