"""Parameters inside image files: infotext, our JSON chunk, files of other tools."""

from __future__ import annotations

import io
import json
import re
import struct
import tracemalloc
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from imagen_nb.store import embed, infotext, parse_infotext, read
from imagen_nb.store.pngmeta import _param_pairs

PARAMS = {
    "prompt": 'a "quoted" cat, sitting: on a mat\nsecond line — 猫, ünïcödé 🐈',
    "negative_prompt": "blurry, low quality\nwatermark",
    "num_inference_steps": 20,
    "guidance_scale": 7.5,
    "seed": 4_294_967_295,
    "width": 64,
    "height": 48,
    "scheduler": "DPM++ 2M Karras",
    "num_images_per_prompt": 1,
    "strength": 0.75,
    "clip_skip": 2,
    "enable_safety": False,
    "style": "ink, wash: soft",
    "loras": [{"name": "x", "scale": 0.8}],
    "callback": None,
}

A1111_TEXT = (
    "masterpiece, best quality, a castle on a hill,\n"
    "sunset, (dramatic lighting:1.2)\n"
    "Negative prompt: lowres, bad anatomy\n"
    "Steps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 123, Size: 512x768, "
    "Model hash: abc, Model: sd15"
)


def png(size=(64, 48), mode="RGB", pnginfo=None) -> bytes:
    im = Image.new(mode, size)
    im.putdata([((x * 7) % 256, (x * 13) % 256, (x * 29) % 256)[: len(mode)] for x in range(size[0] * size[1])])
    buf = io.BytesIO()
    im.save(buf, "PNG", pnginfo=pnginfo)
    return buf.getvalue()


def test_embed_then_read_gives_back_the_params_exactly():
    data = embed(png(), PARAMS, "diffusers:tiny", {"generation_id": "g-1", "order_id": "o-1"})
    meta = read(data)
    assert meta["source"] == "imagen_nb"
    assert meta["params"] == PARAMS
    assert meta["model"] == "diffusers:tiny"
    assert meta["extra"] == {"generation_id": "g-1", "order_id": "o-1"}
    assert (meta["width"], meta["height"], meta["format"], meta["media_type"]) == (64, 48, "PNG", "image/png")


def test_embedded_png_opens_in_pillow_with_identical_pixels_and_valid_chunks():
    original = png()
    data = embed(original, PARAMS, "diffusers:tiny")
    with Image.open(io.BytesIO(data)) as im:
        im.verify()  # checks every chunk's CRC
    with Image.open(io.BytesIO(original)) as before, Image.open(io.BytesIO(data)) as after:
        # Readable without decoding: other tools look at info right after open().
        assert after.info["parameters"] == infotext(PARAMS, "diffusers:tiny")
        assert json.loads(after.info["imagen_nb"]) == {"model": "diffusers:tiny", "params": PARAMS}
        assert after.tobytes() == before.tobytes()
        assert (after.mode, after.size) == (before.mode, before.size)


def test_embed_twice_replaces_the_chunks():
    once = embed(png(), {"prompt": "first"}, "m")
    twice = embed(once, {"prompt": "second"}, "m")
    assert twice.count(b"imagen_nb") == 1 and twice.count(b"parameters") == 1
    assert read(twice)["params"] == {"prompt": "second"}


def test_embed_refuses_what_is_not_a_png():
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "JPEG")
    with pytest.raises(ValueError, match="PNG"):
        embed(buf.getvalue(), {"prompt": "x"}, "m")
    with pytest.raises(ValueError, match="extra"):
        embed(png(), {"prompt": "x"}, "m", {"params": {}})


def test_infotext_has_the_a1111_form():
    text = infotext(PARAMS, "sd15")
    lines = text.split("\n")
    assert lines[:2] == PARAMS["prompt"].split("\n")
    assert lines[2:4] == ["Negative prompt: blurry, low quality", "watermark"]
    assert lines[4].startswith(
        "Steps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 4294967295, Size: 64x48, Model: sd15, "
    )
    assert 'Style: "ink, wash: soft"' in lines[4]
    assert "Clip skip: 2" in lines[4] and "Enable safety: False" in lines[4]
    assert "Loras" not in text and "Callback" not in text


def test_infotext_skips_absent_values():
    text = infotext({"prompt": "a cat", "seed": 1}, "m")
    assert text == "a cat\nSeed: 1, Model: m"


def test_infotext_round_trips_through_parse():
    parsed = parse_infotext(infotext(PARAMS, "diffusers:tiny"))
    placed = ("prompt", "negative_prompt", "num_inference_steps", "guidance_scale", "seed", "width", "height", "scheduler")
    for name in placed:
        assert parsed[name] == PARAMS[name], name
    assert parsed["model"] == "diffusers:tiny"
    # Others come back as strings: the infotext has no types (the JSON chunk has).
    assert parsed["style"] == "ink, wash: soft"
    assert parsed["strength"] == "0.75"
    assert parsed["enable_safety"] == "False"


def test_parse_with_only_a_model_on_the_last_line():
    assert parse_infotext(infotext({"prompt": "a cat"}, "m")) == {"prompt": "a cat", "model": "m"}


def test_file_of_another_tool_parses_to_our_names():
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", A1111_TEXT)
    meta = read(png(pnginfo=info))
    assert meta["source"] == "a1111"
    assert meta["model"] == "sd15"
    assert meta["params"] == {
        "prompt": "masterpiece, best quality, a castle on a hill,\nsunset, (dramatic lighting:1.2)",
        "negative_prompt": "lowres, bad anatomy",
        "num_inference_steps": 20,
        "scheduler": "DPM++ 2M Karras",
        "guidance_scale": 7.0,
        "seed": 123,
        "width": 512,
        "height": 768,
        "model_hash": "abc",
    }


def test_compressed_and_unicode_text_chunks_of_other_tools_are_read():
    for zip_ in (False, True):
        info = PngImagePlugin.PngInfo()
        info.add_itxt("parameters", "猫 on a mat\nSteps: 5, Sampler: Euler a, CFG scale: 3.5", zip=zip_)
        meta = read(png(pnginfo=info))
        assert meta["params"] == {
            "prompt": "猫 on a mat", "num_inference_steps": 5, "scheduler": "Euler a", "guidance_scale": 3.5
        }
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a\nSteps: 5, Seed: 9, Size: 8x8", zip=True)
    assert read(png(pnginfo=info))["params"]["seed"] == 9


def test_parse_quoted_values_with_commas_crlf_and_no_negative_prompt():
    text = (
        "line one\r\nline two, with: colon\r\n"
        'Steps: 30, Sampler: Euler, CFG scale: 5.5, Seed: 7, Size: 1024x1024, '
        'Lora hashes: "detail: 1a2b, style: 3c4d", Version: v1.10.1'
    )
    assert parse_infotext(text) == {
        "prompt": "line one\nline two, with: colon",
        "num_inference_steps": 30,
        "scheduler": "Euler",
        "guidance_scale": 5.5,
        "seed": 7,
        "width": 1024,
        "height": 1024,
        "lora_hashes": "detail: 1a2b, style: 3c4d",
        "version": "v1.10.1",
    }


def test_parse_a_prompt_without_parameters():
    assert parse_infotext("just a prompt, nothing else") == {"prompt": "just a prompt, nothing else"}
    assert parse_infotext("cat\nNegative prompt: dog") == {"prompt": "cat", "negative_prompt": "dog"}


def test_parse_keeps_values_that_do_not_convert_as_strings():
    parsed = parse_infotext("p\nSteps: many, Seed: -1x, CFG scale: 7, Size: big")
    assert parsed["num_inference_steps"] == "many" and parsed["seed"] == "-1x"
    assert parsed["size"] == "big"


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_exif_user_comment_of_jpeg_and_webp(fmt):
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\0" + A1111_TEXT.encode("utf-16-be")
    buf = io.BytesIO()
    Image.new("RGB", (40, 30)).save(buf, fmt, exif=exif)
    meta = read(buf.getvalue())
    assert (meta["width"], meta["height"], meta["format"], meta["source"]) == (40, 30, fmt, "a1111")
    assert meta["params"]["seed"] == 123 and meta["model"] == "sd15"


def test_read_an_image_without_parameters(tmp_path):
    path = tmp_path / "plain.png"
    path.write_bytes(png((10, 20)))
    meta = read(path)
    assert meta == {
        "width": 10, "height": 20, "format": "PNG", "media_type": "image/png",
        "params": None, "model": None, "source": None, "extra": {}, "warnings": [],
    }


def test_read_raises_value_error_for_non_images():
    with pytest.raises(ValueError, match="not an image"):
        read(b"plain text")


# ---- hostile metadata (issue 10, item 4) ------------------------------------------------------

# A1111's own pattern for the pairs of the last line (modules/infotext_utils.py, widened as ours
# is): the reference the linear reader must agree with. It backtracks quadratically on a long
# line without a colon, so it only ever sees short strings here.
_A1111_PAIR = re.compile(r'\s*(\w[\w \-/]*):\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)')
_A1111_LINE = re.compile(r'(?:\s*\w[\w \-/]*:\s*(?:"(?:\\.|[^\\"])*"|[^,]*)(?:,|$))+')


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet='ab1_ :,"\\-/\t.é', max_size=16))
def test_linear_pair_reader_agrees_with_a1111s_pattern(line):
    pairs, whole = _param_pairs(line)
    assert pairs == _A1111_PAIR.findall(line)
    if pairs:
        assert whole == (_A1111_LINE.fullmatch(line) is not None)


MEGABYTE = 1 << 20


@pytest.mark.timeout(60)  # minutes under the old quadratic parser; a fraction of a second now
@pytest.mark.parametrize("line", [
    "word " * (MEGABYTE // 5),                                      # no colon anywhere
    "masterpiece, (dramatic lighting:1.2), " * (MEGABYTE // 38),    # a realistic prompt, repeated
    'a:"\\",' * (MEGABYTE // 7),                                    # quoted values that never close
    "Steps: 20, " * (MEGABYTE // 11),                               # one key 95,000 times
], ids=["words", "prompt", "open-quotes", "repeated-key"])
def test_a_megabyte_single_line_parses(line):
    params = parse_infotext(line)
    assert isinstance(params["prompt"], str)


def _chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def _with_chunks(data: bytes, *chunks: bytes) -> bytes:
    at = data.index(b"IDAT") - 4
    return data[:at] + b"".join(chunks) + data[at:]


def _bomb(size: int) -> bytes:
    return zlib.compress(b"a" * size, 9)


@pytest.mark.parametrize("chunk", [
    _chunk(b"zTXt", b"parameters\0\0" + _bomb(64 * MEGABYTE)),
    _chunk(b"iTXt", b"parameters\0\1\0\0\0" + _bomb(64 * MEGABYTE)),
    _chunk(b"tEXt", b"parameters\0" + b"a" * (MEGABYTE + 2048)),
], ids=["zTXt-bomb", "iTXt-bomb", "huge-tEXt"])
def test_text_chunks_past_the_limit_are_ignored_with_a_warning(chunk):
    data = _with_chunks(png(), chunk)
    tracemalloc.start()
    try:
        meta = read(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert meta["source"] is None and meta["params"] is None
    assert "'parameters'" in meta["warnings"][0] and "1,048,576" in meta["warnings"][0]
    assert peak < 8 * MEGABYTE  # the bomb inflates to 64 MB; reading stops at the limit


def test_a_compressed_chunk_within_the_limit_is_read():
    data = _with_chunks(png(), _chunk(b"zTXt", b"parameters\0\0" + zlib.compress(b"a cat\nSteps: 3, Seed: 4")))
    assert read(data)["params"] == {"prompt": "a cat", "num_inference_steps": 3, "seed": 4}


def test_deeply_nested_json_is_ignored_and_the_infotext_used():
    deep = '{"model": "m", "params": {"x": ' + "[" * 100_000 + "]" * 100_000 + "}}"
    data = _with_chunks(png(), _chunk(b"tEXt", b"imagen_nb\0" + deep.encode()),
                        _chunk(b"tEXt", b"parameters\0a cat\nSteps: 3, Seed: 4, Model: m"))
    meta = read(data)
    assert meta["source"] == "a1111" and meta["params"]["prompt"] == "a cat"
    assert "nests too deeply" in meta["warnings"][0]
