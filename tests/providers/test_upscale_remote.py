"""Remote upscalers in the curated lists, through the real fal and Replicate clients against the loopback
servers: the image is uploaded (fal) or inlined (Replicate), the scale reaches the service under its own
name, and the product is the upscaled image the service returned."""

from __future__ import annotations

import pytest

import imagen_nb as inb
from imagen_nb.core.errors import ValidationError
from fal_server import FalServer
from media import png_bytes
from replicate_server import ReplicateServer, ServerModel, openapi

FAL_KEY = "fal-upscale-id-1234:upscalesecret5678"
TOKEN = "r8_UpscaleLoopbackToken0123456789abcdef"
VERSION = "e" * 64


@pytest.fixture
def remote(home, monkeypatch, tmp_path):
    monkeypatch.setenv("FAL_KEY", FAL_KEY)
    monkeypatch.setenv("REPLICATE_API_TOKEN", TOKEN)
    replicate = ReplicateServer(TOKEN).start()
    replicate.add_model("nightmareai/real-esrgan", ServerModel(output="upscale", latest=VERSION, versions={
        VERSION: openapi({"image": {"type": "string", "format": "uri"}, "scale": {"type": "number"},
                          "face_enhance": {"type": "boolean"}}, required=["image"])}))
    try:
        with FalServer(FAL_KEY) as fal:
            for app in ("fal-ai/esrgan", "fal-ai/clarity-upscaler"):
                fal.app(app, kind="upscale")
            settings = {"fal": fal.settings(poll_interval=0.02, timeout=10, retry_base=0.05),
                        "replicate": {"base_url": replicate.url, "poll_interval": 0.01, "timeout": 10}}
            with inb.Studio(providers=settings, serve=False) as studio:
                path = tmp_path / "small.png"
                path.write_bytes(png_bytes(20, 12, (10, 150, 90)))
                (product,) = studio.import_products([path])
                yield studio, product, fal, replicate
    finally:
        replicate.stop()


def test_curated_upscalers_are_listed(remote):
    studio = remote[0]
    frame = studio.upscalers().set_index("id")
    assert {"fal:fal-ai/esrgan", "fal:fal-ai/clarity-upscaler", "replicate:nightmareai/real-esrgan"} <= set(frame.index)
    assert not frame.loc["fal:fal-ai/esrgan", "local"] and frame.loc["fal:fal-ai/esrgan", "upscale_factor"] == 4


def test_fal_esrgan_uploads_the_product_and_returns_the_upscaled_image(remote):
    studio, product, fal, _ = remote
    order = product.upscale(scale=3, model="fal:fal-ai/esrgan").wait(30)
    assert order.status == "fulfilled", order.errors
    assert (order.products[0].width, order.products[0].height) == (60, 36)
    (submit,) = [s for s in fal.seen if s.op == "submit"]
    body = submit.json()
    assert body["scale"] == 3 and body["model"] == "RealESRGAN_x4plus" and "/cdn/files/" in body["image_url"]


def test_fal_clarity_sends_the_scale_as_upscale_factor(remote):
    studio, product, fal, _ = remote
    order = studio.upscale(product, scale=2, model="fal:fal-ai/clarity-upscaler", creativity=0.2).wait(30)
    assert order.status == "fulfilled", order.errors
    assert (order.products[0].width, order.products[0].height) == (40, 24)
    body = [s for s in fal.seen if s.op == "submit"][0].json()
    assert body["upscale_factor"] == 2 and "scale" not in body and body["creativity"] == 0.2


def test_replicate_real_esrgan(remote):
    studio, product, _, replicate = remote
    order = product.upscale(scale=4, model="replicate:nightmareai/real-esrgan").wait(30)
    assert order.status == "fulfilled", order.errors
    assert (order.products[0].width, order.products[0].height) == (80, 48)
    (created,) = [r for r in replicate.requests if r.method == "POST" and r.path == "/v1/predictions"]
    sent = created.json["input"]
    assert sent["scale"] == 4 and sent["image"].startswith("data:image/png;base64,")


def test_a_scale_the_service_does_not_offer_is_refused(remote):
    studio, product, fal, _ = remote
    with pytest.raises(ValidationError, match="scale"):
        product.upscale(scale=6, model="fal:fal-ai/clarity-upscaler")
    assert [s for s in fal.seen if s.op == "submit"] == []
