"""Inspecting files a user imports."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image, PngImagePlugin

from imagen_nb.core.errors import ValidationError
from imagen_nb.core.limits import MAX_PARAMS_DEPTH, MAX_PARAMS_JSON_BYTES, MAX_PROMPT_CHARS
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


# ---- hostile files (issue 10, item 5) ---------------------------------------------------------


def _ours(tmp_path, params, name="ours.png"):
    buf = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buf, "PNG")
    path = tmp_path / name
    path.write_bytes(embed(buf.getvalue(), params, "diffusers:tiny"))
    return path


@pytest.mark.parametrize("seed", [2**70, "abc", 1e23, -(2**63) - 1, True, float("nan")])
def test_a_seed_the_catalog_cannot_hold_is_dropped_with_a_warning(tmp_path, seed):
    found = inspect_file(_ours(tmp_path, {"prompt": "a cat", "seed": seed, "num_inference_steps": 4}))
    assert found.params == {"prompt": "a cat", "num_inference_steps": 4}
    assert len(found.warnings) == 1 and found.warnings[0].startswith("seed ") and "dropped" in found.warnings[0]


def test_values_the_catalog_can_hold_are_kept_as_they_are(tmp_path):
    params = {"prompt": "a cat", "seed": 2**63 - 1, "num_inference_steps": 30.0, "guidance_scale": 7,
              "loras": [{"name": "x", "scale": 0.5}]}
    found = inspect_file(_ours(tmp_path, params))
    assert found.params == {**params, "num_inference_steps": 30, "guidance_scale": 7.0}
    assert found.warnings == ()


def test_text_loses_nul_characters_and_lone_surrogates(tmp_path):
    path = tmp_path / "odd.png"
    text = json.dumps({"model": "m", "params": {"prompt": "a\u0000b\ud800c", "x": ["\udc00"]}})
    info = PngImagePlugin.PngInfo()
    info.add_itxt("imagen_nb", text)
    save(path, "PNG", (16, 16), pnginfo=info)
    found = inspect_file(path)
    assert found.params == {"prompt": "ab\ufffdc", "x": ["\ufffd"]}
    assert [w.split(":")[0] for w in found.warnings] == ["prompt", "x"]


def test_deep_values_are_dropped_and_long_prompts_cut(tmp_path):
    deep: list = []
    for _ in range(MAX_PARAMS_DEPTH + 5):
        deep = [deep]
    found = inspect_file(_ours(tmp_path, {"prompt": "p" * (MAX_PROMPT_CHARS + 10), "deep": deep, "seed": 1}))
    assert found.params == {"prompt": "p" * MAX_PROMPT_CHARS, "seed": 1}
    assert any(w.startswith("deep nests more than") for w in found.warnings)
    assert any(w.startswith(f"prompt has {MAX_PROMPT_CHARS + 10:,} characters") for w in found.warnings)


def test_parameters_past_the_json_limit_lose_their_largest_values(tmp_path):
    big = {f"k{i}": "v" * 30_000 for i in range(12)}
    found = inspect_file(_ours(tmp_path, {"prompt": "a cat", "seed": 1, **big}))
    assert len(json.dumps(found.params)) <= MAX_PARAMS_JSON_BYTES
    assert found.params["prompt"] == "a cat" and found.params["seed"] == 1
    assert sum("dropped" in w for w in found.warnings) == 12 - len(found.params) + 2


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_a_truncated_image_is_refused_naming_it(tmp_path, fmt):
    whole = save(tmp_path / "whole", fmt, (300, 200)).read_bytes()
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(whole[: len(whole) * 2 // 3])
    with pytest.raises(ValidationError, match=f"cut.{fmt.lower()} (does not decode|is not an image)") as caught:
        inspect_file(path)
    assert caught.value.param == "paths"


def test_a_png_signature_followed_by_html_is_refused(tmp_path):
    header = save(tmp_path / "x.png", "PNG", (16, 16)).read_bytes()[:33]  # signature and IHDR
    for name, data in (("bare.png", b"\x89PNG\r\n\x1a\n<html><body>hi</body></html>"),
                       ("ihdr.png", header + b"<html><body>" + b"x" * 5000 + b"</body></html>")):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValidationError, match=f"{name} (is not an image|does not decode)"):
            inspect_file(tmp_path / name)


def test_an_image_with_too_many_pixels_is_refused_before_decoding(tmp_path):
    path = tmp_path / "huge.png"
    Image.new("1", (10_000, 10_000)).save(path)  # a few KB on disk, 100 M pixels
    with pytest.raises(ValidationError, match="scale it down first"):
        inspect_file(path)
