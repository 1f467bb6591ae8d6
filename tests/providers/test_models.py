"""Which models the diffusers provider offers, resolved without torch or downloads."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import pytest

from imagen_nb.core.errors import ProviderError, UnknownModelError
from imagen_nb.providers.base import ProviderContext
from imagen_nb.providers.diffusers import DiffusersProvider
from imagen_nb.providers.registry import provider_classes


@pytest.fixture
def provider(tmp_path):
    p = DiffusersProvider(ProviderContext(home=tmp_path, settings={"device": "cpu"}))
    yield p
    p.close()


def write_folder(path, class_name="StableDiffusionPipeline", unet_sample_size=None, vae_blocks=4):
    path.mkdir(parents=True)
    (path / "model_index.json").write_text(json.dumps({"_class_name": class_name}))
    if unet_sample_size is not None:
        (path / "unet").mkdir()
        (path / "unet" / "config.json").write_text(json.dumps({"sample_size": unet_sample_size}))
        (path / "vae").mkdir()
        (path / "vae" / "config.json").write_text(json.dumps({"block_out_channels": [8] * vae_blocks}))
    return path


def test_the_provider_is_found_through_its_entry_point():
    assert provider_classes()["diffusers"] is DiffusersProvider
    assert DiffusersProvider.execution == "local"


def test_models_lists_tiny_and_says_its_images_are_noise(provider):
    tiny, upscaler, esrgan = provider.models()  # the tiny upscalers (issue 17) follow it
    assert tiny.id == "diffusers:tiny"
    assert (upscaler.id, esrgan.id) == ("diffusers:tiny-upscaler", "diffusers:tiny-esrgan")
    assert "noise" in upscaler.description and "noise" in esrgan.description
    assert (tiny.type, tiny.family) == ("text-to-image", "stable-diffusion-1")
    assert "noise" in tiny.description and "offline" in tiny.description
    assert tiny.spec["properties"]["width"]["default"] == 64
    assert tiny.spec["properties"]["num_inference_steps"]["default"] == 4
    assert tiny.spec["additionalProperties"] is False
    assert provider.model("tiny") == tiny


def test_listing_models_imports_neither_torch_nor_diffusers(tmp_path):
    folder = write_folder(tmp_path / "sd", unet_sample_size=64)
    code = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        import imagen_nb
        from imagen_nb.providers.base import ProviderContext
        from imagen_nb.providers.diffusers import DiffusersProvider
        p = DiffusersProvider(ProviderContext(home=Path({str(tmp_path)!r}), settings={{"device": "cpu"}}))
        p.models(); p.model("tiny"); p.model({str(folder)!r}); p.model("someone/some-model")
        p.lane(p.model("tiny"))
        heavy = sorted(m for m in ("torch", "diffusers", "transformers") if m in sys.modules)
        print(",".join(heavy) or "none")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "none"


def test_local_folder_family_and_size_come_from_its_files(provider, tmp_path):
    sd = provider.model(str(write_folder(tmp_path / "sd15", unet_sample_size=64)))
    assert sd.family == "stable-diffusion-1" and sd.name == str((tmp_path / "sd15").resolve())
    assert sd.spec["properties"]["width"]["default"] == 512
    xl = provider.model(str(write_folder(tmp_path / "xl", "StableDiffusionXLPipeline", unet_sample_size=128)))
    assert xl.family == "sdxl" and xl.spec["properties"]["height"]["default"] == 1024
    bare = provider.model(str(write_folder(tmp_path / "bare")))  # no configs: the family's native size
    assert bare.spec["properties"]["width"]["default"] == 512


def test_folder_without_model_index_is_refused_with_the_fix(provider, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UnknownModelError, match=r"has no model_index\.json.*save_pretrained"):
        provider.model(str(tmp_path / "empty"))


def test_folder_of_another_pipeline_names_what_runs(provider, tmp_path):
    with pytest.raises(UnknownModelError, match=r"holds a FluxPipeline; .*StableDiffusionPipeline"):
        provider.model(str(write_folder(tmp_path / "flux", "FluxPipeline")))


def test_missing_folder_and_files_are_named(provider, tmp_path):
    with pytest.raises(UnknownModelError, match=r"no folder at"):
        provider.model(str(tmp_path / "nowhere" / "model"))
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(UnknownModelError, match=r"cannot read .*model\.safetensors as a checkpoint: too short"):
        provider.model(str(tmp_path / "model.safetensors"))


def test_unknown_name_suggests_tiny(provider):
    with pytest.raises(UnknownModelError, match=r"no model 'tiyn'\. Did you mean 'tiny'\?"):
        provider.model("tiyn")


def test_hub_ids_are_described_without_downloading(provider, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    sd = provider.model("runwayml/stable-diffusion-v1-5")
    assert (sd.id, sd.family) == ("diffusers:runwayml/stable-diffusion-v1-5", "stable-diffusion-1")
    assert "Hugging Face Hub" in sd.description
    xl = provider.model("stabilityai/stable-diffusion-xl-base-1.0")
    assert xl.family == "sdxl" and xl.spec["properties"]["width"]["default"] == 1024


def test_hub_model_fails_fast_offline_with_the_fix(provider, ctx, request_for, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = provider.model("nobody-here/no-such-model")
    started = time.perf_counter()
    (result,) = provider.factory(model).run([request_for(model, prompt="a cat", seed=1)], ctx)
    assert time.perf_counter() - started < 5
    assert isinstance(result, ProviderError)
    message = str(result)
    assert "Hugging Face Hub cannot be reached" in message
    assert "HF_HUB_OFFLINE" in message and "diffusers:/path/to/folder" in message
    assert "\n" not in message
    assert ctx.progress_calls == [] and ctx.events == []


def test_lane_is_one_per_device(tmp_path):
    for device in ("cpu", "cuda:1", "mps"):
        p = DiffusersProvider(ProviderContext(home=tmp_path, settings={"device": device}))
        assert p.lane(p.model("tiny")) == f"diffusers:{device}"
    assert DiffusersProvider(ProviderContext(home=tmp_path)).concurrency == 1


def test_invalid_dtype_setting_is_explained_when_the_provider_is_made(tmp_path):
    with pytest.raises(ProviderError, match=r"dtype must be one of auto, float16, bfloat16, float32; got 'int8'"):
        DiffusersProvider(ProviderContext(home=tmp_path, settings={"device": "cpu", "dtype": "int8"}))
