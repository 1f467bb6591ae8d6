"""Inspecting files a user imports."""

from __future__ import annotations

import io

import pytest
from PIL import Image, PngImagePlugin

from imagen_nb.core.errors import ValidationError
from imagen_nb.store import embed, inspect_file


def save(path, fmt, size=(48, 32), **kwargs):
    Image.new("RGB", size, "orange").save(path, fmt, **kwargs)
    return path


@pytest.mark.parametrize(
    ("fmt", "name", "ext", "media_type"),
    [
        ("PNG", "a.png", "png", "image/png"),
        ("JPEG", "b.jpeg", "jpg", "image/jpeg"),
        ("WEBP", "c.webp", "webp", "image/webp"),
    ],
)
def test_images_give_their_size_and_type(tmp_path, fmt, name, ext, media_type):
    found = inspect_file(save(tmp_path / name, fmt))
    assert (found.width, found.height, found.ext, found.media_type) == (48, 32, ext, media_type)
    assert found.path == tmp_path / name
    assert (found.params, found.model, found.source) == (None, None, None)


def test_type_comes_from_the_content_not_the_name(tmp_path):
    found = inspect_file(save(tmp_path / "really-a-jpeg.png", "JPEG"))
    assert (found.ext, found.media_type) == ("jpg", "image/jpeg")


def test_parameters_inside_are_found(tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buf, "PNG")
    path = tmp_path / "ours.png"
    path.write_bytes(embed(buf.getvalue(), {"prompt": "a cat", "seed": 3}, "diffusers:tiny"))
    found = inspect_file(path)
    assert (found.params, found.model, found.source) == ({"prompt": "a cat", "seed": 3}, "diffusers:tiny", "imagen_nb")

    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a dog\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 16x16, Model: sd15")
    found = inspect_file(save(tmp_path / "a1111.png", "PNG", (16, 16), pnginfo=info))
    assert found.source == "a1111" and found.model == "sd15" and found.params["prompt"] == "a dog"


def test_a_text_file_gives_a_clear_error_naming_it(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not an image")
    with pytest.raises(ValidationError, match="notes.txt is not an image") as caught:
        inspect_file(path)
    assert caught.value.param == "paths"
    assert isinstance(caught.value, ValueError)


def test_a_missing_file_gives_a_clear_error_naming_it(tmp_path):
    with pytest.raises(ValidationError, match="missing.png: no such file") as caught:
        inspect_file(tmp_path / "missing.png")
    assert caught.value.param == "paths"


def test_a_folder_gives_a_clear_error(tmp_path):
    with pytest.raises(ValidationError, match="is a folder"):
        inspect_file(tmp_path)
