"""Where a studio's home is: ``$IMAGEN_NB_HOME`` or the platform's user data folder."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "IMAGEN_NB_HOME"


def resolve_home(home: str | os.PathLike | None) -> Path:
    """The absolute home folder for ``home`` (default :func:`default_home`)."""
    return (Path(home).expanduser() if home is not None else default_home()).absolute()


def default_home() -> Path:
    """``$IMAGEN_NB_HOME``, else the platform's user data folder for imagen-nb."""
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("imagen-nb", appauthor=False))
