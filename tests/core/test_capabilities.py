"""The capability columns read from a model's type and spec, and ``studio.models()`` filtering on them."""

from __future__ import annotations

from imagen_nb.core.capabilities import COLUMNS, capabilities
from imagen_nb.providers.diffusers.specs import tiny_spec
from imagen_nb.providers.diffusers.upscalers import tiny_esrgan_model, tiny_upscaler_model
from imagen_nb.providers.fal.spec import CURATED as FAL
from imagen_nb.providers.replicate.spec import CURATED as REPLICATE


def test_diffusers_text_to_image_can_start_from_an_image_and_take_loras():
    caps = capabilities("text-to-image", tiny_spec())
    assert (caps.inputs, caps.outputs) == ("text,image", "image")
    assert caps.image_to_image and caps.loras and caps.hires_fix
    assert caps.upscale_factor is None and caps.max_size == 2048


def test_upscalers_say_their_factor_and_largest_output():
    esrgan = tiny_esrgan_model()
    caps = capabilities(esrgan.type, esrgan.spec)
    assert (caps.inputs, caps.outputs, caps.upscale_factor) == ("image", "image", 4)
    assert not caps.image_to_image and not caps.loras and caps.max_size == 4096 * 4
    x4 = tiny_upscaler_model()
    assert capabilities(x4.type, x4.spec).inputs == "image,text"  # a prompt steers it


def test_remote_models():
    fal = {m.name: m for m in FAL}
    sdxl = capabilities("text-to-image", fal["fal-ai/fast-sdxl"].spec)
    assert (sdxl.inputs, sdxl.image_to_image, sdxl.max_size) == ("text", False, 4096)
    assert capabilities("image-to-image", fal["fal-ai/fast-sdxl/image-to-image"].spec).image_to_image
    assert capabilities("upscale", fal["fal-ai/esrgan"].spec).upscale_factor == 4
    video = capabilities("image-to-video", fal["fal-ai/stable-video"].spec)
    assert (video.inputs, video.outputs, video.image_to_image) == ("image", "video", False)
    music = {m.name: m for m in REPLICATE}["meta/musicgen"]
    assert capabilities(music.type, music.spec).inputs == "text"  # an audio file input is not an image


def test_unknown_type_and_empty_spec_give_empty_capabilities():
    caps = capabilities("something-new", {})
    assert (caps.inputs, caps.outputs, caps.image_to_image, caps.upscale_factor, caps.max_size) == \
        ("", "", False, None, None)


def test_models_frame_has_the_columns_and_scripts_filter_on_them(studio):
    models = studio.models()
    assert list(models.columns) == ["id", "provider", "type", "family", "description", *COLUMNS]
    upscalers = models[models.upscale_factor >= 4]
    assert {"diffusers:tiny-esrgan", "diffusers:tiny-upscaler", "fal:fal-ai/esrgan",
            "replicate:nightmareai/real-esrgan"} <= set(upscalers.id)
    assert set(upscalers.type) == {"upscale"}
    lora_img2img = models[models.image_to_image & models.loras]
    assert "diffusers:tiny" in set(lora_img2img.id) and not lora_img2img.provider.isin(["fal"]).any()
    assert models[models.outputs == "video"].type.str.endswith("video").all()
    assert str(models.upscale_factor.dtype) == "Int64" and models.image_to_image.dtype == bool


def test_upscalers_lists_local_first_with_no_default_among_the_noise_models(studio):
    frame = studio.upscalers()
    assert set(frame.type) == {"upscale"}
    assert frame.local.tolist() == sorted(frame.local.tolist(), reverse=True)
    assert not frame["default"].any()  # only tiny (noise) local upscalers here
