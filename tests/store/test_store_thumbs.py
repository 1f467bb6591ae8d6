"""Thumbnails and header reads."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from imagen_nb.store import image_size, thumbnail


def encode(im: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kwargs)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("size", "expected"),
    [((1024, 512), (256, 128)), ((300, 900), (85, 256)), ((512, 512), (256, 256)), ((64, 48), (64, 48))],
)
def test_thumbnail_is_webp_within_256_px_with_aspect_kept(size, expected):
    data, width, height = thumbnail(encode(Image.new("RGB", size, "teal"), "PNG"))
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "WEBP"
        assert im.size == (width, height) == expected


def test_thumbnail_size_argument():
    data, width, height = thumbnail(encode(Image.new("RGB", (400, 200)), "PNG"), size=100)
    assert (width, height) == (100, 50)


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "L", "1", "I;16", "CMYK"])
def test_thumbnail_of_any_pixel_mode(mode):
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    data, width, height = thumbnail(encode(Image.new(mode, (40, 30)), fmt))
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "WEBP" and im.size == (40, 30)
        assert (im.mode == "RGBA") == (mode in ("RGBA", "LA"))


def test_thumbnail_keeps_transparency():
    im = Image.new("RGBA", (32, 32), (255, 0, 0, 0))
    data, _, _ = thumbnail(encode(im, "PNG"))
    with Image.open(io.BytesIO(data)) as thumb:
        assert thumb.convert("RGBA").getpixel((5, 5))[3] == 0


def test_thumbnail_shows_rotated_jpegs_upright():
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    data, width, height = thumbnail(encode(Image.new("RGB", (400, 200)), "JPEG", exif=exif))
    assert (width, height) == (128, 256)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_image_size_reads_the_header(fmt):
    assert image_size(encode(Image.new("RGB", (123, 45)), fmt)) == (123, 45, fmt)


def test_non_images_raise_value_error():
    with pytest.raises(ValueError, match="not an image"):
        image_size(b"hello, world")
    with pytest.raises(ValueError, match="not an image"):
        thumbnail(b"hello, world")
