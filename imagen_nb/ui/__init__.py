"""The panels: Projects, Order, Production and Gallery as anywidgets, alone or as the Studio widget.

>>> import imagen_nb as inb
>>> studio = inb.Studio()
>>> studio                    # in a cell: the Studio widget (four tabs)
>>> inb.Gallery(studio)       # one panel alone

Panels talk to the Studio facade only (DESIGN §4); their JavaScript and CSS live in ``static/``.
"""

__all__ = ["Gallery", "OrderPanel", "Production", "Projects", "StudioWidget"]


def __getattr__(name: str):
    # The widgets import anywidget; the Panel app (app.py) needs only the controllers.
    if name in __all__:
        from . import widgets

        return getattr(widgets, name)
    raise AttributeError(f"module 'imagen_nb.ui' has no attribute {name!r}")
