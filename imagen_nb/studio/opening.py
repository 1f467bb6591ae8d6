"""Opening a home: as its host, or as a client of the process hosting it (``inb.Studio()``)."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from ..core.errors import CatalogBusy, ImagenError, ValidationError
from . import hosting
from .client import HostUnreachable, StudioClient
from .home import resolve_home
from .local import LocalStudio

if TYPE_CHECKING:
    from .surface import Studio


def open_studio(home: str | os.PathLike | None = None, **options: Any) -> "Studio":
    """Open ``home`` as its host, or connect to the process hosting it (what ``inb.Studio()`` does).

    Args:
        home: the home folder (default ``$IMAGEN_NB_HOME``).
        **options: the :class:`~.local.LocalStudio` options (``limit``, ``recovery``, ``providers``,
            ``start``, ``serve``); a client keeps them to take the home over if the host goes away.

    Raises:
        CatalogBusy: another Studio of this process has the home open, or the process holding
            it does not serve it (an older imagen-nb, ``serve=False``, or still opening after
            :data:`~.hosting.HOST_WAIT` seconds).
    """
    path = resolve_home(home)
    deadline = time.monotonic() + hosting.HOST_WAIT
    while True:
        try:
            return LocalStudio(path, **options)
        except CatalogBusy as exc:
            if exc.pid == os.getpid():
                raise
            info = hosting.host_info(path)
            if info is not None:
                try:
                    return StudioClient(path, info, options)
                except HostUnreachable:
                    pass  # it is closing or was killed: the lock frees in a moment
            if time.monotonic() > deadline:
                raise hosting.not_served(path, exc) from None
        except (PermissionError, ValidationError) as exc:
            # Someone else's home: its lock file is not ours to write. A host may still say so.
            denied = exc if isinstance(exc, PermissionError) else exc.__cause__
            if not isinstance(denied, PermissionError):
                raise  # a home that is a file, or a folder that cannot be made: said as it is
            info = hosting.host_info(path)
            if info is not None:
                return StudioClient(path, info, options)  # says clearly when the token is not ours
            if denied is not exc:
                raise  # "cannot use … as a studio home (Permission denied)": no host says otherwise
            raise ImagenError(f"cannot open the imagen-nb home {path}: permission denied on {exc.filename}; "
                              "it belongs to another user. Open a home of your own with Studio(home=...) "
                              "or IMAGEN_NB_HOME.") from None
        time.sleep(0.1)
