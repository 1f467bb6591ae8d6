"""A single-file checkpoint in the original Stable Diffusion (LDM) key layout, as people download them,
really loads and generates offline on the CPU: the tiny model's weights written into one
``.safetensors`` (see ldm_checkpoint.py), registered with ``Studio.add_model``, ordered, and
compared pixel for pixel with the tiny diffusers folder it came from."""

from __future__ import annotations

import socket
import time

import numpy as np
import pytest

from ldm_checkpoint import CLIP, UNET, VAE, round_trip, write_ldm_checkpoint  # tests/providers is on sys.path

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_pipe(tiny_path):
    from diffusers import StableDiffusionPipeline

    return StableDiffusionPipeline.from_pretrained(str(tiny_path))


@pytest.fixture(scope="module")
def checkpoint(tiny_pipe, tmp_path_factory):
    """The tiny model as ONE original-format file: (its path, its state dict)."""
    path = tmp_path_factory.mktemp("checkpoints") / "tiny-single.safetensors"
    return path, write_ldm_checkpoint(tiny_pipe, path)


@pytest.fixture
def no_network(monkeypatch):
    """Fail any attempt to open a connection, and say where it went; HF_HUB_OFFLINE set as users set it."""
    tried: list[object] = []

    def refuse(self, address, *args, **kwargs):
        tried.append(address)
        raise OSError(f"no network in this test (tried {address!r})")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tried


def test_the_file_has_the_original_layout_and_diffusers_converts_it_back_to_the_tiny_weights(checkpoint, tiny_pipe):
    import torch

    path, state = checkpoint
    prefixes = {k.split(".")[0] for k in state}
    assert prefixes == {"model", "first_stage_model", "cond_stage_model"}
    assert all(k.startswith((UNET, VAE, CLIP + "text_model.")) for k in state)
    # Names and shapes as in released SD 1.x files.
    assert state[f"{UNET}input_blocks.2.0.op.weight"].ndim == 4
    assert f"{UNET}output_blocks.1.2.conv.weight" in state  # upsampler after the block's attention
    assert state[f"{VAE}encoder.mid.attn_1.q.weight"].shape[-2:] == (1, 1)  # 1×1 convolutions
    assert f"{CLIP}text_model.embeddings.position_embedding.weight" in state
    back = round_trip(state, tiny_pipe)
    for name in ("unet", "vae", "text_encoder"):
        reference = getattr(tiny_pipe, name).state_dict()
        assert set(back[name]) == set(reference), name
        different = [k for k in reference if not torch.equal(back[name][k], reference[k])]
        assert not different, (name, different[:5])
    assert path.stat().st_size > 1_000_000


def test_a_single_file_checkpoint_loads_offline_and_makes_the_image_its_diffusers_folder_makes(
        tmp_path, tiny_path, checkpoint, no_network, monkeypatch):
    from PIL import Image

    import imagen_nb as inb
    from imagen_nb.providers.diffusers import checkpoints

    path, _ = checkpoint
    loads = []
    real_load = checkpoints.load_single_file

    def spy(model_id, location, family, device, dtype, config=None):
        loads.append((model_id, location, family, str(config)))
        return real_load(model_id, location, family, device, dtype, config=config)

    monkeypatch.setattr(checkpoints, "load_single_file", spy)
    params = {"prompt": "a red fox in the snow", "negative_prompt": "blurry", "seed": 1234,
              "num_inference_steps": 3, "guidance_scale": 6.0, "width": 64, "height": 64}
    with inb.Studio(tmp_path / "studio", providers={"diffusers": {"device": "cpu"}}) as studio:
        # The folder of the same architecture gives the file its configs and tokenizer, offline.
        folder_id = studio.add_model(tiny_path, name="tiny-folder")
        single_id = studio.add_model(path, name="tiny-single")
        assert single_id == "diffusers:tiny-single"
        listed = studio.models().set_index("id")
        assert listed.loc[single_id, "family"] == "stable-diffusion-1"
        assert "single-file checkpoint tiny-single.safetensors" in listed.loc[single_id, "description"]
        assert "CLIP (cond_stage_model.transformer) text encoder, cross-attention 32" in listed.loc[
            single_id, "description"]

        images = {}
        for model_id in (single_id, folder_id):
            started = time.perf_counter()
            order = studio.order(model_id, **params)
            order.wait(timeout=120)
            assert order.status == "fulfilled", (model_id, order.status)
            (product,) = order.products
            assert (product.width, product.height) == (64, 64)
            images[model_id] = np.asarray(Image.open(product.path).convert("RGB"), dtype=np.int16)
            print(f"{model_id}: {time.perf_counter() - started:.2f} s")
    assert no_network == []
    # The file went through from_single_file, with the tiny folder's configs.
    assert loads == [(single_id, str(path.resolve()), "stable-diffusion-1", str(tiny_path.resolve()))]
    difference = np.abs(images[single_id] - images[folder_id]).max()
    assert difference <= 1, difference
    assert images[single_id].std() > 5  # an image, not a blank


def test_a_small_build_without_a_folder_of_its_widths_fails_at_once_offline(
        tmp_path, checkpoint, ctx, request_for, no_network):
    from imagen_nb.core.errors import ProviderError
    from imagen_nb.providers.base import ProviderContext
    from imagen_nb.providers.diffusers import DiffusersProvider

    path, _ = checkpoint
    provider = DiffusersProvider(ProviderContext(home=tmp_path / "home", settings={"device": "cpu"}))
    try:
        model = provider.add_model(path)
        assert (model.id, model.family) == ("diffusers:tiny-single", "stable-diffusion-1")
        started = time.perf_counter()
        (result,) = provider.factory(model).run([request_for(model, prompt="a cat", seed=1)], ctx)
        assert time.perf_counter() - started < 5
    finally:
        provider.close()
    assert isinstance(result, ProviderError)
    assert "unusual widths (cross-attention 32, first UNet block 32 channels)" in str(result)
    assert "single_file_configs" in str(result)
    assert no_network == []


def test_the_setting_single_file_configs_names_the_folder(
        tmp_path, tiny_path, checkpoint, ctx, request_for, no_network):
    from imagen_nb.providers.base import ProviderContext
    from imagen_nb.providers.diffusers import DiffusersProvider

    path, _ = checkpoint
    settings = {"device": "cpu", "single_file_configs": {"stable-diffusion-1": str(tiny_path)}}
    provider = DiffusersProvider(ProviderContext(home=tmp_path / "home", settings=settings))
    try:
        model = provider.add_model(path)
        (result,) = provider.factory(model).run(
            [request_for(model, prompt="a cat", seed=1, num_inference_steps=2, width=64, height=64)], ctx)
    finally:
        provider.close()
    assert not isinstance(result, Exception), result
    assert no_network == []
