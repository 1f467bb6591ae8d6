"""The provider contract (contract.py) run against every provider: instant, diffusers:tiny, and the
fal, Replicate and civitai clients against their loopback servers. A new provider adds a class here."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

import imagen_nb as inb
from civitai_server import CivitaiServer
from contract import ProviderContract  # tests/providers is on sys.path (rootdir import mode)
from fal_server import FalServer
from gemini_server import GeminiServer
from media import png_bytes
from replicate_server import ReplicateServer, ServerModel

FAL_KEY = "fal-contract-id-4321:contractsecret8765"
REPLICATE_TOKEN = "r8_ContractLoopbackToken9876543210fedcba"
CIVITAI_TOKEN = "civitai-contract-token-0a1b2c3d4e5f"
GEMINI_KEY = "AIzaContractLoopback0123456789abcdefgh"


class TestInstantContract(ProviderContract):
    model_id = "instant:swatch"
    params = {"step_seconds": 0}

    @pytest.fixture
    def studio(self, home):
        with inb.Studio() as studio:
            yield studio

    def progress_params(self) -> dict[str, Any]:
        return {"num_inference_steps": 3}

    def slow(self, studio) -> dict[str, Any]:
        return {"num_inference_steps": 1000, "step_seconds": 0.01}

    def failing(self, studio, tmp_path):
        pytest.skip("instant draws swatches in-process and has no failure a request can cause"
                    " (the engine's fault tests use FaultyFactory for that)")


@pytest.mark.slow
class TestDiffusersContract(ProviderContract):
    model_id = "diffusers:tiny"
    params = {"num_inference_steps": 2}
    quick_within = 300

    @pytest.fixture
    def studio(self, home, tiny_path, tmp_path):
        shutil.copytree(tiny_path, home / "providers" / "diffusers" / tiny_path.name)  # not rebuilt per test
        self.loras = tmp_path / "loras"
        self.loras.mkdir()
        with inb.Studio(providers={"diffusers": {"device": "cpu", "lora_dir": str(self.loras)}}) as studio:
            yield studio

    def progress_params(self) -> dict[str, Any]:
        return {"num_inference_steps": 3}

    def slow(self, studio) -> dict[str, Any]:
        return {"num_inference_steps": 150}

    def failing(self, studio, tmp_path):
        (self.loras / "broken.safetensors").write_bytes(b"not a safetensors file")
        return {"loras": [{"name": "broken"}]}, "is not a readable safetensors file"


class TestFalContract(ProviderContract):
    model_id = "fal:fal-ai/fast-sdxl"
    params = {"width": 64, "height": 64}
    key = FAL_KEY

    @pytest.fixture
    def studio(self, home, monkeypatch):
        monkeypatch.setenv("FAL_KEY", FAL_KEY)
        with FalServer(FAL_KEY) as server:
            self.server = server
            settings = server.settings(poll_interval=0.02, retry_base=0.05, timeout=10, request_timeout=5, retries=3)
            with inb.Studio(providers={"fal": settings}) as studio:
                yield studio

    def slow(self, studio) -> dict[str, Any]:
        self.server.app("fal-ai/fast-sdxl", hold=True)
        return dict(self.params)

    def failing(self, studio, tmp_path):
        self.server.fault("status", "error", message="CUDA out of memory")
        return dict(self.params), "CUDA out of memory"

    def leaking(self, studio) -> dict[str, Any]:
        self.server.app("fal-ai/fast-sdxl", extra_log=f"authenticated with {FAL_KEY}")
        self.server.fault("result", "detail", message=f"the key {FAL_KEY} may not use this model")
        return {}


class TestReplicateContract(ProviderContract):
    model_id = "replicate:black-forest-labs/flux-schnell"
    bad_param = ("num_inference_steps", 99)
    key = REPLICATE_TOKEN

    @pytest.fixture
    def studio(self, home, monkeypatch):
        monkeypatch.setenv("REPLICATE_API_TOKEN", REPLICATE_TOKEN)
        server = ReplicateServer(REPLICATE_TOKEN).start()
        server.add_model("black-forest-labs/flux-schnell", ServerModel(official=True))
        self.server = server
        settings = {"poll_interval": 0.01, "request_timeout": 0.5, "retries": 3, "retry_base": 0.02, "timeout": 10,
                    "base_url": server.url}
        try:
            with inb.Studio(providers={"replicate": settings}) as studio:
                yield studio
        finally:
            server.stop()

    def slow(self, studio) -> dict[str, Any]:
        self.server.models["black-forest-labs/flux-schnell"].ending = "hang"
        return {}

    def failing(self, studio, tmp_path):
        self.server.models["black-forest-labs/flux-schnell"].ending = "failed"
        return {}, "CUDA out of memory"

    def leaking(self, studio) -> dict[str, Any]:
        self.server.fault("POST", r"/v1/models/black-forest-labs/flux-schnell/predictions", "status", status=401,
                          detail="bad token {authorization}")
        return {}


class TestCivitaiContract(ProviderContract):
    model_id = "civitai:urn:air:sd1:checkpoint:civitai:4384@128713"
    key = CIVITAI_TOKEN

    @pytest.fixture
    def studio(self, home, monkeypatch):
        monkeypatch.setenv("CIVITAI_API_TOKEN", CIVITAI_TOKEN)
        with CivitaiServer(CIVITAI_TOKEN, polls_to_finish=3) as server:
            self.server = server
            with inb.Studio(providers={"civitai": server.settings()}) as studio:
                yield studio

    def progress_params(self) -> dict[str, Any]:
        return {"num_images_per_prompt": 3}

    def slow(self, studio) -> dict[str, Any]:
        self.server.orchestrator.ending = "hang"
        return {"num_images_per_prompt": 2}

    def failing(self, studio, tmp_path):
        self.server.orchestrator.ending = "failed"
        return {}, self.server.orchestrator.reason

    def leaking(self, studio) -> dict[str, Any]:
        self.server.fault("POST", r"/v2/consumer/workflows", "status", status=401, detail="bad token {authorization}")
        return {}


@pytest.mark.slow
class TestUpscaleContract(ProviderContract):
    """The ``upscale`` model type: the tiny x4 upscaler (prompt-steered, seeded) of the diffusers provider."""

    model_id = "diffusers:tiny-upscaler"
    bad_param = ("noise_level", 999)
    quick_within = 300

    @pytest.fixture
    def studio(self, home, tiny_upscaler_path, tmp_path):
        from media import png_bytes

        shutil.copytree(tiny_upscaler_path, home / "providers" / "diffusers" / tiny_upscaler_path.name)
        source = tmp_path / "small.png"
        source.write_bytes(png_bytes(16, 12))
        self.params = {"image": str(source), "num_inference_steps": 2}
        self.tmp_path = tmp_path
        with inb.Studio(providers={"diffusers": {"device": "cpu"}}) as studio:
            yield studio

    def progress_params(self) -> dict[str, Any]:
        return {**self.params, "num_inference_steps": 3}

    def slow(self, studio) -> dict[str, Any]:
        return {**self.params, "num_inference_steps": 150}

    def failing(self, studio, tmp_path):
        from media import png_bytes

        wide = tmp_path / "wide.png"
        wide.write_bytes(png_bytes(1100, 8))
        return {**self.params, "image": str(wide)}, "larger than this upscaler takes"


class TestTransformersContract(ProviderContract):
    """The offline tiny vision judge (image-to-text; its text is gibberish)."""

    model_id = "transformers:tiny-judge"
    bad_param = ("max_new_tokens", 0)

    @pytest.fixture
    def studio(self, home, tmp_path):
        picture = tmp_path / "picture.png"
        picture.write_bytes(png_bytes(32, 32))
        self.params = {"image": str(picture), "max_new_tokens": 4}
        with inb.Studio(providers={"transformers": {"device": "cpu"}}, serve=False) as studio:
            yield studio

    def progress_params(self) -> dict[str, Any]:
        return {**self.params, "max_new_tokens": 6}

    def slow(self, studio) -> dict[str, Any]:
        return {**self.params, "max_new_tokens": 2048}

    def failing(self, studio, tmp_path):
        # a URL passes the Studio's checks (URLs are the provider's business); this provider reads files only
        return {**self.params, "image": "http://127.0.0.1:9/picture.png"}, "reads local images only"


class TestGeminiContract(ProviderContract):
    model_id = "gemini:gemini-2.5-flash"
    bad_param = ("temperature", 5)
    key = GEMINI_KEY

    @pytest.fixture
    def studio(self, home, monkeypatch):
        monkeypatch.setenv("GEMINI_API_KEY", GEMINI_KEY)
        with GeminiServer(GEMINI_KEY) as server:
            self.server = server
            with inb.Studio(providers={"gemini": server.settings()}, serve=False) as studio:
                yield studio

    def slow(self, studio) -> dict[str, Any]:
        self.server.fault("slow", delay=4)
        return {}

    def failing(self, studio, tmp_path):
        self.server.fault("400", message="User location is not supported for the API use.")
        return {}, "User location is not supported"

    def leaking(self, studio) -> dict[str, Any]:
        self.server.fault("400", message=f"API key {GEMINI_KEY} not valid. Please pass a valid API key.")
        return {}
