"""WEBP thumbnails for the gallery, and cheap reads of an image's size from its header."""

from __future__ import annotations

import io
import struct

from PIL import Image, ImageOps

THUMB_SIZE = 256
"""Longest side of a gallery thumbnail, in pixels."""

# Thumbnails sit on the hot path of every generation, so the encoder settings are chosen for
# speed (measured with Pillow 13 / libwebp on 64–256 px images). Lossy method 1 is ~2x faster
# than the default 4 with no visible loss at thumbnail size. Up to 64x64 px, lossless method 0
# is faster still (110–170 µs against 180–460 µs; noise-like images, such as the tiny
# test model's, are the slow lossy case) and no larger than the PNG it comes from.
_WEBP_LOSSY = {"format": "WEBP", "quality": 80, "method": 1}
_WEBP_LOSSLESS = {"format": "WEBP", "lossless": True, "quality": 0, "method": 0}
_LOSSLESS_MAX_PIXELS = 64 * 64

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Pillow raises many types on a broken file (UnidentifiedImageError is an OSError; truncated
# or odd headers give SyntaxError, struct.error, EOFError…); callers want one ValueError.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, Image.DecompressionBombError)


def image_size(data: bytes) -> tuple[int, int, str]:
    """Return ``(width, height, format)`` of an image without decoding its pixels.

    ``format`` is Pillow's name (``PNG``, ``JPEG``, ``WEBP``…). PNGs are read straight from
    the IHDR chunk; other formats through Pillow's lazy header parser.

    Raises:
        ValueError: ``data`` is not an image Pillow can read.
    """
    if data[:8] == _PNG_SIGNATURE and data[12:16] == b"IHDR":
        width, height = struct.unpack_from(">II", data, 16)
        return width, height, "PNG"
    with open_image(data) as im:
        return im.width, im.height, im.format


def open_image(data: bytes) -> Image.Image:
    """Open ``data`` lazily with Pillow (header only); raise ValueError when it is no image."""
    try:
        return Image.open(io.BytesIO(data))
    except _DECODE_ERRORS as e:
        raise ValueError(f"not an image Pillow can read ({e})") from e


def thumbnail(data: bytes, size: int = THUMB_SIZE) -> tuple[bytes, int, int]:
    """Make a WEBP thumbnail of an image; return ``(webp_bytes, width, height)`` of the thumbnail.

    The longest side is at most ``size`` px and the aspect ratio is kept. Images already within
    ``size`` keep their size but are still re-encoded as WEBP, so the gallery reads one format.
    EXIF orientation is applied, so the thumbnail shows the image upright.

    Raises:
        ValueError: ``data`` is not an image Pillow can decode.
    """
    with open_image(data) as im:
        return thumbnail_of(im, size)


def thumbnail_of(im: Image.Image, size: int = THUMB_SIZE) -> tuple[bytes, int, int]:
    """Like :func:`thumbnail` for an image already opened, so callers that also need its
    header (size, format) open it once. ``im`` is modified in place (reduced)."""
    try:
        if im.width > size or im.height > size:
            # thumbnail() also asks JPEG for a reduced-scale decode (draft), much faster than
            # decoding every pixel and resizing afterwards.
            im.thumbnail((size, size))
        else:
            im.load()
        if "exif" in im.info:
            # Applied after reducing: transposing 256 px is cheaper than the full image.
            im = ImageOps.exif_transpose(im)
        if im.mode not in ("RGB", "RGBA"):
            has_alpha = im.mode in ("RGBa", "LA", "La", "PA") or "transparency" in im.info
            im = im.convert("RGBA" if has_alpha else "RGB")
        buf = io.BytesIO()
        im.save(buf, **(_WEBP_LOSSLESS if im.width * im.height <= _LOSSLESS_MAX_PIXELS else _WEBP_LOSSY))
    except _DECODE_ERRORS as e:
        raise ValueError(f"cannot make a thumbnail: the image does not decode ({e})") from e
    return buf.getvalue(), im.width, im.height
