"""The ``upscale`` model type of the diffusers provider through the Studio: the tiny x4 upscaler, the tiny
ESRGAN, SR files in the model folder, the latent x2 upscaler by hub id and folder, product.upscale and the
bulk form, and the errors a person meets first."""

from __future__ import annotations

import json

import numpy as np
import pytest

from imagen_nb.core.errors import UnknownModelError, ValidationError
from media import png_bytes

pytestmark = pytest.mark.slow


def pixels(product):
    return np.asarray(product.image)


@pytest.fixture
def source(upscale_studio, tmp_path):
    """A 24×16 product imported into the studio."""
    path = tmp_path / "small.png"
    path.write_bytes(png_bytes(24, 16, (200, 120, 40)))
    (product,) = upscale_studio.import_products([path])
    return product


def test_the_tiny_upscalers_are_listed_as_upscale_models(upscale_studio):
    models = upscale_studio.models().set_index("id")
    assert models.loc["diffusers:tiny-upscaler", "type"] == "upscale"
    assert models.loc["diffusers:tiny-upscaler", "family"] == "sd-x4-upscaler"
    assert models.loc["diffusers:tiny-esrgan", "upscale_factor"] == 4
    assert "noise" in models.loc["diffusers:tiny-esrgan", "description"]
    spec = upscale_studio.model("diffusers:tiny-upscaler").spec["properties"]
    assert {"image", "scale", "prompt", "noise_level", "num_inference_steps", "guidance_scale", "seed"} <= set(spec)


def test_product_upscale_with_the_tiny_esrgan_makes_the_asked_size(upscale_studio, source):
    order = source.upscale(scale=2, model="diffusers:tiny-esrgan").wait(120)
    assert order.status == "fulfilled", order.errors
    (product,) = order.products
    assert (product.width, product.height) == (48, 32)
    returned = order.generations.return_params[0]
    assert returned["architecture"] == "RRDBNet" and returned["model_factor"] == 4
    assert returned["image_size"] == [24, 16] and returned["output_size"] == [48, 32]
    assert order.generations.params[0]["image"] == source.id  # the generation keeps the product id


def test_tiled_and_untiled_esrgan_agree(upscale_studio, source):
    whole = upscale_studio.upscale(source, scale=4, model="diffusers:tiny-esrgan", tile_size=0).wait(120)
    tiled = upscale_studio.upscale(source, scale=4, model="diffusers:tiny-esrgan", tile_size=8,
                                   tile_overlap=3).wait(120)
    assert whole.status == tiled.status == "fulfilled", (whole.errors, tiled.errors)
    assert tiled.generations.return_params[0]["tiles"] == 5 * 3 and whole.generations.return_params[0]["tiles"] == 1
    a, b = pixels(whole.products[0]).astype(int), pixels(tiled.products[0]).astype(int)
    assert a.shape == b.shape == (64, 96, 3)
    assert np.abs(a - b).mean() < 8  # the seams are blended: close to the untiled image


def test_bulk_upscale_is_one_order_with_one_generation_per_product(upscale_studio, tmp_path):
    paths = []
    for i, size in enumerate([(16, 16), (20, 12), (8, 24)]):
        paths.append(tmp_path / f"p{i}.png")
        paths[-1].write_bytes(png_bytes(*size))
    products = upscale_studio.import_products(paths)
    order = upscale_studio.upscale(products, scale=3, model="diffusers:tiny-esrgan").wait(120)
    assert order.status == "fulfilled", order.errors
    assert sorted((p.width, p.height) for p in order.products) == [(24, 72), (48, 48), (60, 36)]
    assert len(order.generations) == 3


def test_the_x4_upscaler_makes_four_times_and_reproduces_with_its_seed(upscale_studio, source):
    args = dict(model="diffusers:tiny-upscaler", scale=4, prompt="a fox", seed=7, noise_level=30)
    first = upscale_studio.upscale(source, **args).wait(180)
    again = upscale_studio.upscale(source, **args).wait(180)
    assert first.status == again.status == "fulfilled", (first.errors, again.errors)
    assert (first.products[0].width, first.products[0].height) == (96, 64)
    assert np.array_equal(pixels(first.products[0]), pixels(again.products[0]))
    actual = first.generations.actual_params[0]
    assert actual["noise_level"] == 30 and actual["num_inference_steps"] == 2 and actual["seed"] == 7
    returned = first.generations.return_params[0]
    assert returned["pipeline_class"] == "StableDiffusionUpscalePipeline"
    other = upscale_studio.upscale(source, **{**args, "noise_level": 300}).wait(180)
    assert not np.array_equal(pixels(other.products[0]), pixels(first.products[0])), "noise_level is used"


def test_x4_upscaler_carries_the_products_prompt(upscale_studio):
    made = upscale_studio.order("diffusers:tiny", prompt="a red barn", seed=1, num_inference_steps=2).wait(120)
    order = made.products[0].upscale(scale=2, model="diffusers:tiny-upscaler").wait(180)
    assert order.status == "fulfilled", order.errors
    assert order.generations.params[0]["prompt"] == "a red barn"
    assert (order.products[0].width, order.products[0].height) == (128, 128)


def test_sr_files_in_the_model_folder_are_upscalers(upscale_studio, source, tiny_esrgan_path, home):
    import shutil

    import torch

    folder = home / "models"
    folder.mkdir()
    shutil.copy(tiny_esrgan_path, folder / "4x-Test.safetensors")
    torch.save({"params_ema": dict(__import__("safetensors.torch", fromlist=["load_file"]).load_file(
        str(tiny_esrgan_path)))}, folder / "RealESRGAN_x4plus.pth")
    models = upscale_studio.models().set_index("id")
    assert models.loc["diffusers:4x-Test", "type"] == "upscale"
    assert "RRDBNet ×4, read from the file" in models.loc["diffusers:4x-Test", "description"]
    assert models.loc["diffusers:RealESRGAN_x4plus", "upscale_factor"] == 4
    assert upscale_studio.upscalers().query("default").id.tolist() == ["diffusers:4x-Test"]
    order = source.upscale(scale=2).wait(120)  # the default: a local upscaler with real weights
    assert order.status == "fulfilled", order.errors
    assert order.model == "diffusers:4x-Test"
    pth = source.upscale(scale=4, model="diffusers:RealESRGAN_x4plus").wait(120)
    assert (pth.products[0].width, pth.status) == (96, "fulfilled")


def test_add_model_links_sr_weights(upscale_studio, tiny_esrgan_path):
    model_id = upscale_studio.add_model(tiny_esrgan_path, name="my-esrgan")
    assert model_id == "diffusers:my-esrgan"
    assert upscale_studio.model(model_id).type == "upscale"


def test_latent_x2_upscaler_by_hub_id_and_by_folder(upscale_studio, tmp_path):
    hub = upscale_studio.model("diffusers:stabilityai/sd-x2-latent-upscaler")
    assert (hub.type, hub.family, hub.spec["x-upscale-factor"]) == ("upscale", "sd-latent-upscaler", 2)
    assert "noise_level" not in hub.spec["properties"] and hub.spec["properties"]["scale"]["maximum"] == 2
    x4 = upscale_studio.model("diffusers:stabilityai/stable-diffusion-x4-upscaler")
    assert (x4.type, x4.spec["x-upscale-factor"]) == ("upscale", 4)
    folder = tmp_path / "latent"
    folder.mkdir()
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionLatentUpscalePipeline"}))
    local = upscale_studio.model(f"diffusers:{folder}")
    assert (local.type, local.family) == ("upscale", "sd-latent-upscaler")


def test_bad_upscale_requests_are_refused_before_anything_runs(upscale_studio, source):
    with pytest.raises(ValidationError, match="scale") as err:
        source.upscale(scale=8, model="diffusers:tiny-esrgan")
    assert err.value.param == "scale"
    with pytest.raises(ValidationError, match="tile_overlap 40 must be less than half of tile_size 64"):
        source.upscale(model="diffusers:tiny-esrgan", tile_size=64, tile_overlap=40)
    with pytest.raises(ValidationError, match="text-to-image model, not an upscaler"):
        source.upscale(model="diffusers:tiny")
    with pytest.raises(ValidationError, match="no upscale model with real weights"):
        source.upscale()
    with pytest.raises(ValidationError, match="at least one product"):
        upscale_studio.upscale([], model="diffusers:tiny-esrgan")
    with pytest.raises(ValidationError, match="prompt"):
        upscale_studio.order("diffusers:tiny-esrgan", image=str(source.path), prompt="no prompt here")
    with pytest.raises(UnknownModelError):
        source.upscale(model="diffusers:no-such-upscaler")
    upscale_studio.delete(source)
    with pytest.raises(ValidationError, match="deleted"):
        upscale_studio.upscale(source.id, model="diffusers:tiny-esrgan")
    assert upscale_studio.sql("select count(*) as n from generations")["n"][0] == 0


def test_an_image_too_large_for_a_diffusion_upscaler_fails_its_generation(upscale_studio, tmp_path):
    path = tmp_path / "wide.png"
    path.write_bytes(png_bytes(1100, 8))
    order = upscale_studio.order("diffusers:tiny-upscaler", image=str(path)).wait(60)
    assert order.status == "failed"
    assert "larger than this upscaler takes (1024 px a side)" in order.errors.error_message[0]


def make_tiny_latent_upscaler(folder):
    """A tiny StableDiffusionLatentUpscalePipeline (K-diffusion UNet blocks, 8 input channels, Fourier
    time embedding, as diffusers' own tests build one) with random weights, saved to ``folder``."""
    import tempfile
    from pathlib import Path

    import torch
    from diffusers import (AutoencoderKL, EulerDiscreteScheduler, StableDiffusionLatentUpscalePipeline,
                           UNet2DConditionModel)
    from transformers import CLIPTextConfig, CLIPTextModel

    from imagen_nb.providers.diffusers.tiny import make_tiny_tokenizer

    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = make_tiny_tokenizer(Path(tmp))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        unet = UNet2DConditionModel(
            act_fn="gelu", attention_head_dim=8, norm_num_groups=None, block_out_channels=(32, 32, 64, 64),
            time_cond_proj_dim=160, conv_in_kernel=1, conv_out_kernel=1, cross_attention_dim=32, in_channels=8,
            down_block_types=("KDownBlock2D", "KCrossAttnDownBlock2D", "KCrossAttnDownBlock2D", "KCrossAttnDownBlock2D"),
            up_block_types=("KCrossAttnUpBlock2D", "KCrossAttnUpBlock2D", "KCrossAttnUpBlock2D", "KUpBlock2D"),
            mid_block_type=None, only_cross_attention=False, out_channels=5, resnet_time_scale_shift="scale_shift",
            time_embedding_type="fourier", timestep_post_act="gelu")
        vae = AutoencoderKL(block_out_channels=(8, 16, 16, 16), norm_num_groups=4, layers_per_block=1, latent_channels=4,
                            down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4)
        text = CLIPTextModel(CLIPTextConfig(
            hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2, projection_dim=32,
            vocab_size=len(tokenizer), max_position_embeddings=77, bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id))
    StableDiffusionLatentUpscalePipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet,
                                         scheduler=EulerDiscreteScheduler(prediction_type="sample")).save_pretrained(folder)
    return folder


def test_a_latent_x2_upscaler_folder_runs(upscale_studio, tmp_path):
    folder = make_tiny_latent_upscaler(tmp_path / "tiny-latent-x2")
    path = tmp_path / "in.png"
    path.write_bytes(png_bytes(128, 96))
    (product,) = upscale_studio.import_products([path])
    model = f"diffusers:{folder}"
    order = product.upscale(scale=2, model=model, prompt="a fox", num_inference_steps=2, seed=3).wait(180)
    assert order.status == "fulfilled", order.errors
    assert (order.products[0].width, order.products[0].height) == (256, 192)
    returned = order.generations.return_params[0]
    assert returned["pipeline_class"] == "StableDiffusionLatentUpscalePipeline" and returned["seed"] == 3
    half = product.upscale(scale=1.5, model=model, num_inference_steps=2, seed=3).wait(180)
    assert (half.products[0].width, half.products[0].height) == (192, 144)  # resized down from its ×2
