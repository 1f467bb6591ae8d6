"""Inspecting image files a user imports: format, size and any generation parameters inside."""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any, Mapping

from imagen_nb.core.errors import ValidationError
from imagen_nb.store import pngmeta

# Extension a product of each Pillow format is stored under.
_EXTS = {"PNG": "png", "JPEG": "jpg", "MPO": "jpg", "WEBP": "webp", "GIF": "gif", "BMP": "bmp", "TIFF": "tiff"}


@dataclass(frozen=True)
class ImportedFile:
    """What :func:`inspect_file` found in one file.

    Args:
        path: the file.
        media_type: from its content, not its name (``image/png``).
        ext: extension to store it under, from its content (``png``, ``jpg``, ``webp``).
        width: pixels.
        height: pixels.
        params: generation parameters found inside, under our names, or ``None``.
        model: model named inside, or ``None``.
        source: ``"imagen_nb"``, ``"a1111"`` or ``None`` (see :func:`pngmeta.read`).
    """

    path: Path
    media_type: str
    ext: str
    width: int
    height: int
    params: Mapping[str, Any] | None
    model: str | None
    source: str | None


def inspect_file(path: str | PathLike) -> ImportedFile:
    """Read an image file's format, size and embedded parameters, without decoding its pixels.

    Raises:
        ValidationError: (``param="paths"``) the file is missing, is a folder, cannot be read,
            or is not an image; the message names the file.
    """
    p = Path(path)
    if not p.exists():
        where = "" if p.is_absolute() else f" (relative paths start at {Path.cwd()})"
        raise ValidationError("paths", f"{p}: no such file; check the path{where}")
    if p.is_dir():
        raise ValidationError(
            "paths", f"{p} is a folder; pass the image files in it, e.g. sorted(Path(...).glob('*.png'))"
        )
    try:
        meta = pngmeta.read(p)
    except PermissionError as e:
        raise ValidationError("paths", f"{p}: cannot read it ({e.strerror}); check its permissions") from e
    except (ValueError, OSError) as e:
        raise ValidationError(
            "paths", f"{p} is not an image imagen-nb can import (PNG, JPEG, WEBP, GIF, BMP, TIFF): {e}"
        ) from e
    fmt = meta["format"]
    return ImportedFile(
        path=p,
        media_type=meta["media_type"],
        ext=_EXTS.get(fmt, p.suffix.lower().removeprefix(".") or fmt.lower()),
        width=meta["width"],
        height=meta["height"],
        params=meta["params"],
        model=meta["model"],
        source=meta["source"],
    )
