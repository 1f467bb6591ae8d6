"""The Studio surface (DESIGN §4): the local studio that hosts a home, the client of a host, the
host's API server, and the handles (Order, Product, Project, Collection) both return.

``Studio(home)`` opens the home as its host when no other process does, else as a client of it.
"""

from .handles import Collection, Order, Product, Project
from .home import HOME_ENV, default_home, delete_from_trash, resolve_home, trash_of
from .surface import Studio


def _open_studio(*args, **kwargs) -> Studio:
    from .opening import open_studio  # the host and the client are loaded when a home is opened

    return open_studio(*args, **kwargs)


Studio._opener = staticmethod(_open_studio)

__all__ = ["HOME_ENV", "Collection", "Order", "Product", "Project", "Studio", "default_home", "delete_from_trash",
           "resolve_home", "trash_of"]
