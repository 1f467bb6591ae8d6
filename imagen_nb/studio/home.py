"""Where a studio's home is: ``$IMAGEN_NB_HOME`` or the platform's user data folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

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


def trash_of(home: str | os.PathLike | None) -> list[tuple[Path, int]]:
    """The files in a home's ``trash/`` with their sizes, read without opening its catalog (no
    recovery runs, and a process hosting the home is no obstacle)."""
    from ..core.errors import ValidationError
    from ..store import ProductStore

    home = resolve_home(home)
    if not home.is_dir():
        raise ValidationError("home", f"{home} is not an imagen-nb home (no such folder); give --home or home=")
    out = []
    for path in ProductStore(home).trash_files():
        try:
            out.append((path, path.stat().st_size))
        except FileNotFoundError:
            continue
    return out


def delete_from_trash(home: str | os.PathLike | None, files: Iterable[Path]) -> tuple[int, int]:
    """Delete ``files`` (as listed by :func:`trash_of`) for good: (files removed, bytes freed).
    A path outside the home's ``trash/`` is refused."""
    from ..core.errors import ValidationError
    from ..store import ProductStore

    trash = ProductStore(resolve_home(home)).trash
    removed = freed = 0
    for path in files:
        if trash not in Path(path).parents:
            raise ValidationError("files", f"{path} is not in {trash}; only files of the trash are deleted")
        try:
            size = Path(path).stat().st_size
            Path(path).unlink()
        except FileNotFoundError:
            continue
        removed, freed = removed + 1, freed + size
    return removed, freed
