"""The model folder: diffusers folders and single-file checkpoints listed as ``diffusers:<name>``,
families read from files, ``Studio.add_model`` linking a model in, and errors that say what to do."""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest
from safetensors.numpy import save_file

from imagen_nb.core.errors import ProviderError, UnknownModelError
from imagen_nb.providers.base import ProviderContext
from imagen_nb.providers.diffusers import DiffusersProvider
from imagen_nb.providers.diffusers import folders as model_folders
from imagen_nb.providers.diffusers.checkpoints import checkpoint_info, detect_family

UNET = "model.diffusion_model."


def write_folder(path, class_name="StableDiffusionPipeline", cross_attention_dim=768, base=320, sample_size=64):
    path.mkdir(parents=True)
    (path / "model_index.json").write_text(json.dumps({"_class_name": class_name}))
    (path / "unet").mkdir()
    (path / "unet" / "config.json").write_text(json.dumps(
        {"sample_size": sample_size, "cross_attention_dim": cross_attention_dim, "block_out_channels": [base, base * 2]}))
    (path / "vae").mkdir()
    (path / "vae" / "config.json").write_text(json.dumps({"block_out_channels": [8] * 4}))
    return path


def sd_keys(width: int, base: int = 320) -> dict[str, np.ndarray]:
    """The tensors of an original-format SD 1/2 checkpoint that tell its family, with tiny shapes
    where the shape does not matter."""
    return {
        f"{UNET}input_blocks.0.0.weight": np.zeros((base, 4, 1, 1), np.float16),
        f"{UNET}input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": np.zeros((2, width), np.float16),
        "cond_stage_model.transformer.text_model.embeddings.position_embedding.weight": np.zeros((2, 2), np.float16),
    }


def sdxl_keys() -> dict[str, np.ndarray]:
    return {
        f"{UNET}input_blocks.0.0.weight": np.zeros((320, 4, 1, 1), np.float16),
        f"{UNET}input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight": np.zeros((2, 2048), np.float16),
        f"{UNET}label_emb.0.0.weight": np.zeros((2, 2), np.float16),
        "conditioner.embedders.0.transformer.text_model.embeddings.position_embedding.weight": np.zeros((2, 2), np.float16),
        "conditioner.embedders.1.model.positional_embedding": np.zeros((2, 2), np.float16),
    }


@pytest.fixture
def model_dir(tmp_path):
    path = tmp_path / "home" / "models"
    path.mkdir(parents=True)
    return path


@pytest.fixture
def provider(model_dir):
    p = DiffusersProvider(ProviderContext(home=model_dir.parent, settings={"device": "cpu"}))
    yield p
    p.close()


def test_folders_and_checkpoints_in_the_model_folder_are_listed_with_family_and_type(provider, model_dir, caplog):
    write_folder(model_dir / "dreamy-sd15")
    write_folder(model_dir / "sd21", cross_attention_dim=1024)
    write_folder(model_dir / "juggernaut", "StableDiffusionXLPipeline", cross_attention_dim=2048, sample_size=128)
    write_folder(model_dir / "flux-dev", "FluxPipeline")  # not runnable here: skipped, said in the log
    (model_dir / "notes").mkdir()  # not a model at all: skipped quietly
    save_file(sd_keys(768), str(model_dir / "realistic-v5.safetensors"))
    save_file(sdxl_keys(), str(model_dir / "pony.safetensors"))
    (model_dir / "animeXL_v2.ckpt").write_bytes(b"\x80\x02}q\x00.")
    (model_dir / "readme.txt").write_text("my models")

    listed = {m.name: m for m in provider.models() if m.type != "upscale"}  # the tiny upscalers are listed too
    assert set(listed) == {"tiny", "dreamy-sd15", "sd21", "juggernaut", "realistic-v5", "pony", "animeXL_v2"}
    assert {n: m.family for n, m in listed.items() if n != "tiny"} == {
        "dreamy-sd15": "stable-diffusion-1", "sd21": "stable-diffusion-2", "juggernaut": "sdxl",
        "realistic-v5": "stable-diffusion-1", "pony": "sdxl", "animeXL_v2": "sdxl"}
    assert {m.type for m in listed.values()} == {"text-to-image"}
    assert listed["dreamy-sd15"].id == "diffusers:dreamy-sd15"
    assert listed["juggernaut"].spec["properties"]["width"]["default"] == 1024
    assert "single-file" in listed["pony"].description and "cross-attention 2048" in listed["pony"].description
    assert "guessed from the file name" in listed["animeXL_v2"].description
    assert "FluxPipeline" in caplog.text
    # Ordering by name finds the same model.
    assert provider.model("realistic-v5") == listed["realistic-v5"]
    assert provider.model("sd21").family == "stable-diffusion-2"


def test_listing_the_model_folder_imports_neither_torch_nor_diffusers(model_dir):
    import subprocess
    import sys
    import textwrap

    write_folder(model_dir / "sd15")
    save_file(sd_keys(1024), str(model_dir / "v2.safetensors"))
    (model_dir / "RealESRGAN_x2plus.pth").write_bytes(b"not read when listing")  # a .pth is always SR weights
    code = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from imagen_nb.providers.base import ProviderContext
        from imagen_nb.providers.diffusers import DiffusersProvider
        p = DiffusersProvider(ProviderContext(home=Path({str(model_dir.parent)!r}), settings={{"device": "cpu"}}))
        print(sorted(m.name for m in p.models()), p.model("v2").family)
        print(",".join(sorted(m for m in ("torch", "diffusers", "transformers") if m in sys.modules)) or "none")
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "['RealESRGAN_x2plus', 'sd15', 'tiny', 'tiny-esrgan', 'tiny-upscaler', 'v2'] stable-diffusion-2", "none"]


@pytest.mark.parametrize("keys, family, how", [
    (sd_keys(768), "stable-diffusion-1", "cross-attention 768"),
    (sd_keys(1024), "stable-diffusion-2", "cross-attention 1024"),
    (sdxl_keys(), "sdxl", "conditioner.embedders.1"),
    # A build of unusual widths (the tiny model as a single file): the text encoder's layout tells.
    (sd_keys(32, base=32), "stable-diffusion-1", "CLIP (cond_stage_model.transformer) text encoder, cross-attention 32"),
    ({f"{UNET}input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": np.zeros((2, 64), np.float16),
      "cond_stage_model.model.positional_embedding": np.zeros((2, 2), np.float16)},
     "stable-diffusion-2", "OpenCLIP (cond_stage_model.model) text encoder, cross-attention 64"),
    ({"down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight": np.zeros((2, 2048), np.float16),
      "add_embedding.linear_1.weight": np.zeros((2, 2), np.float16)}, "sdxl", "added embedding"),
])
def test_the_family_of_a_single_file_comes_from_its_header(tmp_path, keys, family, how):
    save_file(keys, str(tmp_path / "model.safetensors"))
    info = checkpoint_info(tmp_path / "model.safetensors")
    assert info.family == family and how in info.how


@pytest.mark.parametrize("shapes, message", [
    ({"lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": [4, 320]},
     r"no UNet cross-attention weights .* not a Stable Diffusion checkpoint \(a LoRA"),
    ({f"{UNET}input_blocks.0.0.weight": [320, 9, 3, 3]}, r"inpainting checkpoint"),
    ({"double_blocks.0.img_attn.qkv.weight": [9216, 3072]}, r"Flux"),
    ({f"{UNET}label_emb.0.0.weight": [2, 2], f"{UNET}input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight": [2, 1280]},
     r"SDXL refiner"),
    ({f"{UNET}input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": [2, 512]}, r"cross-attention width 512"),
])
def test_checkpoints_of_other_kinds_are_named(shapes, message):
    with pytest.raises(UnknownModelError, match=message):
        detect_family(shapes, "x.safetensors")


def test_add_model_links_a_folder_and_an_order_on_it_runs(tmp_path, tiny_path):
    import imagen_nb as inb

    home = tmp_path / "studio"
    with inb.Studio(home, providers={"diffusers": {"device": "cpu"}}) as studio:
        model_id = studio.add_model(tiny_path, name="my-tiny")
        assert model_id == "diffusers:my-tiny"
        assert (home / "models" / "my-tiny").resolve() == tiny_path.resolve()
        listed = studio.models().set_index("id")
        assert listed.loc["diffusers:my-tiny", "family"] == "stable-diffusion-1"
        assert studio.add_model(tiny_path, name="my-tiny") == model_id  # the same again: a no-op
        order = studio.order(model_id, prompt="a [cat,dog]", seed=3, num_inference_steps=2)
        order.wait(timeout=120)
        assert order.status == "fulfilled"
        products = order.products
        assert len(products) == 2 and all(p.path.is_file() for p in products)
        assert {p.width for p in products} == {64}
    with inb.Studio(home, providers={"diffusers": {"device": "cpu"}}) as studio:
        assert "diffusers:my-tiny" in set(studio.models()["id"])  # kept across sessions


def test_add_model_names_a_folder_by_default_and_refuses_a_taken_name(provider, tmp_path, model_dir):
    first = write_folder(tmp_path / "a" / "dreamy")
    other = write_folder(tmp_path / "b" / "dreamy")
    assert provider.add_model(first).id == "diffusers:dreamy"
    with pytest.raises(UnknownModelError, match=r"already has a model called 'dreamy' .*pass another name="):
        provider.add_model(other)
    assert provider.add_model(other, name="dreamy-2").id == "diffusers:dreamy-2"


def test_add_model_registers_a_checkpoint_and_falls_back_to_a_marker_without_symlinks(
        provider, tmp_path, model_dir, monkeypatch):
    save_file(sdxl_keys(), str(tmp_path / "my-xl.safetensors"))

    def no_symlinks(*args, **kwargs):
        raise OSError("symbolic links are not allowed here")

    monkeypatch.setattr(os, "symlink", no_symlinks)
    info = provider.add_model(tmp_path / "my-xl.safetensors")
    assert (info.id, info.family) == ("diffusers:my-xl", "sdxl")
    marker = model_dir / "my-xl.link.json"
    assert json.loads(marker.read_text())["path"] == str((tmp_path / "my-xl.safetensors").resolve())
    assert [m.name for m in provider.models()] == ["tiny", "tiny-upscaler", "tiny-esrgan", "my-xl"]


def test_add_model_errors_say_what_is_wrong(provider, tmp_path):
    with pytest.raises(UnknownModelError, match=r"no file or folder there"):
        provider.add_model(tmp_path / "nowhere")
    (tmp_path / "photos").mkdir()
    with pytest.raises(UnknownModelError, match=r"not a diffusers model folder: it has no model_index\.json"):
        provider.add_model(tmp_path / "photos")
    with pytest.raises(UnknownModelError, match=r"holds a FluxPipeline"):
        provider.add_model(write_folder(tmp_path / "flux", "FluxPipeline"))
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(UnknownModelError, match=r"a model is a diffusers folder .* or a single-file checkpoint"):
        provider.add_model(tmp_path / "notes.txt")
    save_file({"lora_unet_x.lora_down.weight": np.zeros((4, 8), np.float16)}, str(tmp_path / "style.safetensors"))
    with pytest.raises(UnknownModelError, match=r"not a Stable Diffusion checkpoint \(a LoRA"):
        provider.add_model(tmp_path / "style.safetensors")
    good = write_folder(tmp_path / "good")
    for bad in ("a/b", "tiny", "", "-x"):
        with pytest.raises(UnknownModelError, match=r"name"):
            provider.add_model(good, name=bad)
    assert [m.name for m in provider.models()] == ["tiny", "tiny-upscaler", "tiny-esrgan"]


def test_a_single_file_offline_without_configs_fails_at_once_with_the_fix(
        provider, model_dir, ctx, request_for, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    save_file(sd_keys(768), str(model_dir / "realistic.safetensors"))
    model = provider.model("realistic")
    started = time.perf_counter()
    (result,) = provider.factory(model).run([request_for(model, prompt="a cat", seed=1)], ctx)
    assert time.perf_counter() - started < 5
    assert isinstance(result, ProviderError)
    message = str(result)
    assert "cannot load diffusers:realistic offline" in message
    assert "convert the checkpoint to a diffusers folder" in message and "make the hub reachable" in message
    assert "stable-diffusion-v1-5/stable-diffusion-v1-5" in message


def test_a_folder_of_the_same_family_and_widths_gives_a_single_file_its_configs(model_dir):
    write_folder(model_dir / "tiny-sd1", cross_attention_dim=768, base=32)  # other widths: does not fit
    write_folder(model_dir / "sd2", cross_attention_dim=1024)  # other family
    fits = write_folder(model_dir / "sd15", cross_attention_dim=768, base=320)
    save_file(sd_keys(768, base=320), str(model_dir / "realistic.safetensors"))
    found = model_folders.config_folder(model_dir, "stable-diffusion-1", model_dir / "realistic.safetensors")
    assert found == fits.resolve()
    save_file(sd_keys(768, base=64), str(model_dir / "odd.safetensors"))
    assert model_folders.config_folder(model_dir, "stable-diffusion-1", model_dir / "odd.safetensors") is None


def test_a_single_file_that_cannot_be_built_from_its_configs_says_to_convert_it(
        provider, model_dir, ctx, request_for, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    write_folder(model_dir / "sd15")  # configs only: no tokenizer, no weights
    save_file(sd_keys(768), str(model_dir / "realistic.safetensors"))
    model = provider.model("realistic")
    (result,) = provider.factory(model).run([request_for(model, prompt="a cat", seed=1)], ctx)
    assert isinstance(result, ProviderError)
    assert "cannot load diffusers:realistic from the single file" in str(result)
    assert "from_single_file(path).save_pretrained(folder)" in str(result)


def test_a_mistyped_name_suggests_the_model_folder_names(provider, model_dir):
    write_folder(model_dir / "dreamy-sd15")
    with pytest.raises(UnknownModelError, match=r"no model 'dreamy-sd1'\. Did you mean 'dreamy-sd15'\?.*add_model"):
        provider.model("dreamy-sd1")
