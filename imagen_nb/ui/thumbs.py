"""Thumbnails for the panels: which bytes stand for a product in a grid, a card, a row or a strip.

A product's picture is its thumbnail file (the store writes a WEBP one for images, videos and
audio), else the product file itself when it is a small image a browser shows (PNG, JPEG,
WEBP, GIF). Every panel picks the bytes here, and puts them in a reply with :func:`attach`.
:func:`make_thumbnail` draws a small WEBP from bytes that have none yet (an upload, a local file).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, Mapping, NamedTuple

from ..core.paths import inside_home
from .bridge import Reply

#: an image without a thumbnail file is sent whole only up to this size
INLINE_THUMB_BYTES = 256 * 1024
_SUFFIX_TYPES = {".webp": "image/webp", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                 ".gif": "image/gif"}
#: media types a browser shows as they are (a small one is its own thumbnail)
WEB_IMAGE_TYPES = frozenset(_SUFFIX_TYPES.values())


class Thumb(NamedTuple):
    """A thumbnail's bytes and their media type."""

    data: bytes
    media_type: str


def media_type_of(data: bytes, path: Any = None) -> str:
    """The media type of image bytes, from their signature (else ``path``'s suffix, else WEBP)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return _SUFFIX_TYPES.get(Path(path).suffix.lower(), "image/webp") if path else "image/webp"


def thumb_of(thumb_path: Any, path: Any = None, media_type: str | None = None,
             size: int | None = None) -> Thumb | None:
    """The bytes that show a product: its thumbnail file, or its file when that is a web image
    of at most :data:`INLINE_THUMB_BYTES`; None when neither can be read (the page shows a
    placeholder).

    Args:
        thumb_path: the thumbnail file (None, or a NaN cell, when there is none).
        path: the product file; only a fallback, and only when ``media_type`` is a web image.
        size: the product file's size in bytes, when known (else it is asked of the disk).
    """
    candidates: list[tuple[Path, bool]] = []  # (file, whether it is sent only when small)
    if _is_path(thumb_path):
        candidates.append((Path(thumb_path), False))
    if _is_path(path) and media_type in WEB_IMAGE_TYPES:
        candidates.append((Path(path), True))
    for candidate, only_small in candidates:
        try:
            if only_small and (size if size is not None else candidate.stat().st_size) > INLINE_THUMB_BYTES:
                continue
            data = candidate.read_bytes()
        except OSError:  # a file removed behind our back: the page shows its placeholder
            continue
        return Thumb(data, media_type_of(data, candidate))
    return None


def product_thumb(product: Any) -> Thumb | None:
    """:func:`thumb_of` for a Studio ``Product`` handle."""
    return thumb_of(product.thumb_path, product.path, product.media_type, product.size)


def row_thumb(row: Mapping[str, Any], home: Any) -> Thumb | None:
    """:func:`thumb_of` for a row of ``Studio.gallery`` (``thumb_path``, ``path``, ``media_type``,
    ``size``); files the row names outside ``home`` are never read."""
    try:
        size = int(row.get("size"))
    except (TypeError, ValueError):  # None or NaN: ask the disk
        size = None
    return thumb_of(inside_home(home, row.get("thumb_path")), inside_home(home, row.get("path")),
                    row.get("media_type"), size)


def attach(reply: Reply, item: dict[str, Any], thumb: Thumb | None, key: str = "thumb",
           type_key: str = "thumb_type") -> None:
    """Put ``thumb`` in ``reply``: ``item[key]`` is its buffer index and ``item[type_key]`` its
    media type (both None without a thumbnail)."""
    item[key] = reply.add(thumb.data) if thumb else None
    item[type_key] = thumb.media_type if thumb else None


def make_thumbnail(data: bytes, size: int = 160) -> bytes:
    """A WEBP picture of image bytes, at most ``size`` pixels a side (raises when they do not decode)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im.thumbnail((size, size))
        out = io.BytesIO()
        im.convert("RGBA" if im.mode in ("RGBA", "LA", "P") else "RGB").save(out, format="WEBP", quality=80)
        return out.getvalue()


def _is_path(value: Any) -> bool:
    return bool(value) and isinstance(value, (str, os.PathLike))
