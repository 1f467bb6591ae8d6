"""Our PNGs as other tools read them (sd-parsers, a real third-party reader), and A1111's PNGs as we read them."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image, PngImagePlugin
from sd_parsers import ParserManager

import imagen_nb as inb
from imagen_nb.store import pngmeta
from imagen_nb.store import embed

PARAMS = {
    "prompt": "a red fox, ink wash",
    "negative_prompt": "blurry, text",
    "num_inference_steps": 20,
    "scheduler": "DPM++ 2M Karras",
    "guidance_scale": 7.5,
    "seed": 1234567,
    "width": 64,
    "height": 48,
    "clip_skip": 2,
}
MODEL_HASH = "6ce0161689b3853acaa03779ec93eafe75a02f4ced659bee03f50797806fa2fa"
LORAS = [("style-a", "0123456789ab"), ("styles/ink", "ba9876543210")]


def png(size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, "teal").save(buf, "PNG")
    return buf.getvalue()


def sd_parse(data: bytes):
    with Image.open(io.BytesIO(data)) as image:
        info = ParserManager().parse(image)
    assert info is not None, "sd-parsers found no parameters"
    return info


# ---- what sd-parsers reads from ours ------------------------------------------------------------


def test_sd_parsers_reads_every_field_model_hash_and_loras_from_our_png():
    info = sd_parse(embed(png(), PARAMS, "diffusers:tiny", model_hash=MODEL_HASH, loras=LORAS))
    assert info.generator.name == "AUTOMATIC1111"
    (sampler,) = info.samplers
    assert sampler.name == "DPM++ 2M Karras"
    assert sampler.parameters == {"steps": "20", "cfg_scale": "7.5", "seed": "1234567"}
    assert [p.value for p in sampler.prompts] == ["a red fox, ink wash"]
    assert [p.value for p in sampler.negative_prompts] == ["blurry, text"]
    assert (sampler.model.name, sampler.model.hash) == ("tiny", MODEL_HASH[:10])
    assert info.metadata["Size"] == "64x48"
    assert info.metadata["Clip skip"] == "2"
    assert info.metadata["Hashes"] == {"model": MODEL_HASH[:10], "lora:style-a": "0123456789ab",
                                       "lora:styles/ink": "ba9876543210"}


def test_the_infotext_is_a1111s_own_order_and_form():
    text = Image.open(io.BytesIO(embed(png(), PARAMS, "diffusers:tiny", model_hash=MODEL_HASH,
                                       loras=LORAS))).info["parameters"]
    prompt, negative, last = text.split("\n")
    assert (prompt, negative) == ("a red fox, ink wash", "Negative prompt: blurry, text")
    assert last == (
        'Steps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 1234567, Size: 64x48, Model hash: 6ce0161689, '
        'Model: tiny, Clip skip: 2, Provider: diffusers, Lora hashes: "style-a: 0123456789ab, styles/ink: '
        'ba9876543210", Hashes: {"model": "6ce0161689", "lora:style-a": "0123456789ab", "lora:styles/ink": '
        '"ba9876543210"}'
    )


def test_a_remote_model_without_hashes_still_names_its_model():
    info = sd_parse(embed(png(), PARAMS, "fal:fal-ai/fast-sdxl"))
    (sampler,) = info.samplers
    assert (sampler.model.name, sampler.model.hash) == ("fal-ai/fast-sdxl", None)
    assert "Hashes" not in info.metadata


def test_our_reader_gives_back_the_model_id_and_the_hashes():
    meta = pngmeta.parse_infotext(
        Image.open(io.BytesIO(embed(png(), PARAMS, "diffusers:tiny", model_hash=MODEL_HASH,
                                    loras=LORAS))).info["parameters"])
    assert meta["model"] == "diffusers:tiny"
    assert meta["model_hash"] == MODEL_HASH[:10]
    assert meta["lora_hashes"] == "style-a: 0123456789ab, styles/ink: ba9876543210"
    assert meta["hashes"]["lora:styles/ink"] == "ba9876543210"
    assert meta["seed"] == 1234567 and meta["clip_skip"] == "2"


# ---- A1111's PNGs, written the way its create_infotext writes them --------------------------------


def a1111_quote(text) -> str:
    """A1111's modules/infotext_utils.quote: JSON only where a separator appears."""
    text = str(text)
    if "," not in text and "\n" not in text and ":" not in text:
        return text
    return json.dumps(text, ensure_ascii=False)


def a1111_infotext(prompt: str, negative: str, fields: dict) -> str:
    """A1111's processing.create_infotext: prompt, negative line, then "Key: value" in its order."""
    generation_params_text = ", ".join(k if k == v else f"{k}: {a1111_quote(v)}" for k, v in fields.items()
                                       if v is not None)
    negative_text = f"\nNegative prompt: {negative}" if negative else ""
    return f"{prompt}{negative_text}\n{generation_params_text}".strip()


A1111_FIELDS = {  # the keys and order A1111 1.10 writes for a txt2img with a LoRA
    "Steps": 28,
    "Sampler": "DPM++ 2M",
    "Schedule type": "Karras",
    "CFG scale": 6.5,
    "Seed": 3141592653,
    "Size": "512x768",
    "Model hash": "c0d1994c73",
    "Model": "realisticVisionV20_v20",
    "VAE hash": "735e4c3a44",
    "VAE": "vae-ft-mse-840000-ema-pruned.safetensors",
    "Clip skip": 2,
    "Lora hashes": "detail-tweaker: 3a5b7c9d1e2f, film grain: 0f1e2d3c4b5a",
    "Version": "v1.10.1",
}
A1111_PROMPT = "portrait of an old sailor, dramatic light <lora:detail-tweaker:0.6> <lora:film grain:0.3>\nsecond line"
A1111_NEGATIVE = "lowres, bad hands"


def a1111_png(tmp_path, name="00012-3141592653.png"):
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", a1111_infotext(A1111_PROMPT, A1111_NEGATIVE, A1111_FIELDS))
    path = tmp_path / name
    Image.new("RGB", (32, 48), "navy").save(path, "PNG", pnginfo=info)
    return path


def test_import_reads_an_a1111_png_as_a1111_wrote_it_and_agrees_with_sd_parsers(home, tmp_path):
    path = a1111_png(tmp_path)
    with inb.Studio() as studio:
        (product,) = studio.import_products(path)
        params = product.params
        row = studio.sql(f"select prompt, negative_prompt, seed, num_inference_steps, guidance_scale, model "
                         f"from gallery where product_id = '{product.id}'").iloc[0]
    assert params["prompt"] == A1111_PROMPT
    assert params["negative_prompt"] == A1111_NEGATIVE
    assert (params["num_inference_steps"], params["guidance_scale"], params["seed"]) == (28, 6.5, 3141592653)
    assert (params["width"], params["height"]) == (512, 768)  # as generated; the file here is smaller
    assert (params["scheduler"], params["schedule_type"]) == ("DPM++ 2M", "Karras")
    assert (params["model_hash"], params["clip_skip"], params["version"]) == ("c0d1994c73", "2", "v1.10.1")
    assert params["lora_hashes"] == "detail-tweaker: 3a5b7c9d1e2f, film grain: 0f1e2d3c4b5a"
    assert (row.prompt, row.seed, row.num_inference_steps, row.model) == (A1111_PROMPT, 3141592653, 28,
                                                                             "realisticVisionV20_v20")

    info = sd_parse(path.read_bytes())  # the third-party reader sees the same file the same way
    (sampler,) = info.samplers
    assert sampler.prompts[0].value == params["prompt"] and sampler.negative_prompts[0].value == A1111_NEGATIVE
    assert (sampler.model.name, sampler.model.hash) == ("realisticVisionV20_v20", params["model_hash"])
    assert sampler.parameters["seed"] == str(params["seed"])


@pytest.mark.parametrize("value", ["a, b", "x: y", 'say "hi"'])
def test_a1111_quoted_values_come_back_unquoted(tmp_path, value):
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", a1111_infotext("p", "", {"Steps": 4, "Sampler": "Euler a", "CFG scale": 7,
                                                         "Seed": 1, "Style": value}))
    path = tmp_path / "q.png"
    Image.new("RGB", (8, 8)).save(path, "PNG", pnginfo=info)
    meta = pngmeta.read(path)
    assert meta["params"]["style"] == value


@pytest.mark.timeout(30)
def test_hashes_at_the_end_of_a_hostile_line_are_found_in_linear_time():
    """A megabyte of spaces or of "Hashes:" before the real ones (a quadratic search would take hours)."""
    for filler in (" " * 1_000_000, "Hashes: {" * 100_000):
        meta = pngmeta.parse_infotext(f'p\nSteps: 1, Sampler: Euler, Seed: 2, Note: {json.dumps(filler)}, '
                                      f'Hashes: {{"model": "abc"}}')
        assert meta["hashes"] == {"model": "abc"} and meta["seed"] == 2
        assert pngmeta.parse_infotext("p\n" + filler)["prompt"] == ("p\n" + filler).strip()
