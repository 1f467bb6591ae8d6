"""Upscale models of the diffusers provider (model type ``upscale``: an image in, a larger image out).

Three kinds, each a family:

- ``sd-x4-upscaler``: ``StableDiffusionUpscalePipeline`` (``stabilityai/stable-diffusion-x4-upscaler``
  or a folder holding one; ``tiny-upscaler`` offline): diffusion on a 4× latent, steered by a
  prompt, ``noise_level`` (how much noise is added to the low-resolution image first), steps
  and guidance.
- ``sd-latent-upscaler``: ``StableDiffusionLatentUpscalePipeline`` (``stabilityai/sd-x2-latent-upscaler``
  or a folder): 2×.
- ``super-resolution``: a Real-ESRGAN-like network from a ``.pth``/``.safetensors`` file in the
  model folder (``tiny-esrgan`` offline), run in overlapping tiles (see :mod:`.tiles`,
  :mod:`.srnet`). No prompt, no seed: the same image gives the same output.

Every upscale spec has ``image`` (required) and ``scale``: the output is the input × ``scale``;
below the model's own factor the model's output is resized down with Lanczos.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ...core.errors import GenerationCancelled, ProviderError, ValidationError
from ...core.records import GenerationRequest, GenerationResult, ModelInfo, Output
from ..base import Factory, RunContext
from ..checks import Check, spec_check
from ..spec import int_property, number_property, object_spec, prompt_property, seed_property, string_property

if TYPE_CHECKING:
    from .provider import DiffusersProvider

UPSCALE = "upscale"
X4 = "sd-x4-upscaler"
LATENT_X2 = "sd-latent-upscaler"
SR = "super-resolution"
#: family → (pipeline class or None, native factor)
UPSCALE_FAMILIES: dict[str, tuple[str | None, int]] = {
    X4: ("StableDiffusionUpscalePipeline", 4),
    LATENT_X2: ("StableDiffusionLatentUpscalePipeline", 2),
    SR: (None, 4),
}
#: ``_class_name`` of a folder's model_index.json → upscale family.
UPSCALE_PIPELINES = {cls: family for family, (cls, _) in UPSCALE_FAMILIES.items() if cls}
#: Hub ids known to be upscalers (any other hub id is taken for text-to-image).
HUB_UPSCALERS = {
    "stabilityai/stable-diffusion-x4-upscaler": X4,
    "stabilityai/sd-x2-latent-upscaler": LATENT_X2,
}
TINY_UPSCALER = "tiny-upscaler"
TINY_ESRGAN = "tiny-esrgan"
NOISE_NOTE = " Its weights are random, made locally on first use for offline work and tests: its output is noise."
#: Largest input side the diffusion upscalers take (their memory grows with the output: 4× this).
MAX_INPUT_SIDE = {X4: 1024, LATENT_X2: 1024, SR: 4096}
_SCALE_IN_NAME = re.compile(r"(?:^|[^a-z0-9])(?:x([1-8])|([1-8])x)(?:[^a-z0-9]|$)", re.I)


def image_property() -> dict[str, Any]:
    """The required ``image`` of an upscale model (a product id, a file path or a URL)."""
    return {"type": "string", "format": "uri", "title": "Image",
            "description": "The image to upscale: a product id of this studio, a file path or an http(s) URL."}


def scale_property(factor: int) -> dict[str, Any]:
    """``scale``: output size ÷ input size, up to the model's own factor."""
    return number_property(1, factor, factor, f"Output size ÷ input size (the model makes ×{factor}; less is"
                                              " resized down from its output).", title="Scale")


def upscale_spec(family: str, factor: int, *, steps: int = 75) -> dict[str, Any]:
    """The parameter set spec of an upscale model of ``family`` with native ``factor``."""
    props: dict[str, Any] = {"image": image_property(), "scale": scale_property(factor)}
    if family in (X4, LATENT_X2):
        props["prompt"] = prompt_property("What the image shows (steers the detail the upscaler adds).", default="")
        props["negative_prompt"] = string_property("What the upscaled image should not show.", default="",
                                                   title="Negative prompt")
        props["num_inference_steps"] = int_property(1, 150, steps, "Denoising steps.", title="Steps")
        props["guidance_scale"] = number_property(0, 30, 9.0 if family == X4 else 0.0,
                                                  "How closely the detail follows the prompt; ≤ 1 turns it off.",
                                                  title="CFG scale")
        if family == X4:
            props["noise_level"] = int_property(0, 350, 20, "Noise added to the low-resolution image before"
                                                " upscaling: more lets the model invent more detail.",
                                                title="Noise level")
        props["seed"] = seed_property()
    else:
        props["tile_size"] = int_property(0, 2048, 512, "Input pixels per tile side (0: the whole image at"
                                          " once); halved on out-of-memory.", title="Tile size")
        props["tile_overlap"] = int_property(0, 256, 32, "Pixels tiles overlap by, blended so no seam shows.",
                                             title="Tile overlap")
    spec = object_spec(props, required=["image"], title=f"{family} upscale ×{factor}")
    spec["x-upscale-factor"] = factor
    spec["x-max-input-side"] = MAX_INPUT_SIDE[family]
    return spec


def upscale_model(name: str, family: str, description: str, *, factor: int | None = None,
                  steps: int = 75) -> ModelInfo:
    """The ModelInfo of an upscale model."""
    factor = factor or UPSCALE_FAMILIES[family][1]
    return ModelInfo("diffusers", name, UPSCALE, family, upscale_spec(family, factor, steps=steps), description)


def tiny_upscaler_model() -> ModelInfo:
    """``diffusers:tiny-upscaler``: a tiny x4 upscaler pipeline (noise output), 2 steps by default."""
    return upscale_model(TINY_UPSCALER, X4, "Tiny Stable Diffusion x4 upscaler." + NOISE_NOTE, steps=2)


def tiny_esrgan_model() -> ModelInfo:
    """``diffusers:tiny-esrgan``: a tiny RRDBNet ×4 state dict (noise output)."""
    return upscale_model(TINY_ESRGAN, SR, "Tiny ESRGAN (RRDBNet ×4) super-resolution network." + NOISE_NOTE)


def sr_file_model(path: Path, name: str) -> ModelInfo:
    """The ModelInfo of an SR weights file; the scale from a safetensors header, else from the name (×4)."""
    from .srnet import header_arch

    arch = header_arch(path) if path.suffix == ".safetensors" else None
    if arch is not None:
        factor, how = arch.scale, f"{arch.name} ×{arch.scale}, read from the file"
    else:
        m = _SCALE_IN_NAME.search(path.stem)
        factor = int(m.group(1) or m.group(2)) if m else 4
        how = f"×{factor} {'from the file name' if m else 'assumed'}; the architecture is read when it loads"
    return upscale_model(name, SR, f"Super-resolution network {path.name} ({how}).", factor=max(1, factor))


def is_sr_file(path: Path) -> bool:
    """True when ``path`` is SR weights: any ``.pth``, or a ``.safetensors`` whose keys are an SR net."""
    from .srnet import header_arch

    return path.suffix == ".pth" or (path.suffix == ".safetensors" and header_arch(path) is not None)


def folder_upscaler(folder: Path, class_name: str) -> ModelInfo | None:
    """The ModelInfo of a diffusers folder holding an upscale pipeline (None for other pipelines)."""
    family = UPSCALE_PIPELINES.get(class_name)
    if family is None:
        return None
    return upscale_model(str(folder), family, f"{class_name} from the local folder {folder.name}.")


def hub_upscaler(repo_id: str) -> ModelInfo | None:
    """The ModelInfo of a known upscaler hub id (None for other ids)."""
    family = HUB_UPSCALERS.get(repo_id)
    if family is None:
        return None
    return upscale_model(repo_id, family, f"{repo_id} from the Hugging Face Hub; downloaded on first use,"
                                          " which needs network.")


# ---- running ------------------------------------------------------------------------------


def input_rules(given: Mapping[str, Any], out: dict[str, Any]) -> dict[str, Any]:
    """``image`` must be a usable source; ``tile_overlap`` under half of ``tile_size``."""
    from .img2img import check_source

    check_source(out.get("image"))
    tile, overlap = out.get("tile_size"), out.get("tile_overlap")
    if tile and overlap is not None and overlap * 2 >= tile:
        raise ValidationError("tile_overlap", f"tile_overlap {overlap} must be less than half of tile_size {tile}")
    return out


class UpscaleFactory(Factory):
    """Runs an upscale model of the diffusers provider, one request at a time."""

    def __init__(self, model: ModelInfo, provider: DiffusersProvider):
        super().__init__(model)
        self.provider = provider

    def checks(self) -> list[Check]:
        """``spec``, then ``upscale-input`` (see :func:`input_rules`)."""
        return [spec_check(self.model.spec, self.model.id), Check("upscale-input", input_rules)]

    def run(self, requests: Sequence[GenerationRequest], ctx: RunContext) -> list[GenerationResult | BaseException]:
        """Upscale each request's image; a failure fails that request only."""
        results: list[GenerationResult | BaseException] = []
        for request in requests:
            if ctx.cancelled(request.generation_id):
                results.append(GenerationCancelled(f"generation {request.generation_id} was cancelled before it started"))
                continue
            try:
                results.append(self._run_one(request, ctx))
            except Exception as exc:  # recorded on that generation; the worker keeps going
                results.append(exc)
        return results

    def _run_one(self, request: GenerationRequest, ctx: RunContext) -> GenerationResult:
        from .img2img import _short, open_image, read_source

        params = self.validate(request.params)
        if self.model.family != SR and params.get("seed") is None:
            from ..spec import random_seed

            params["seed"] = random_seed()
        data = read_source(params["image"])
        image = open_image(data, params["image"])
        limit = int(self.model.spec.get("x-max-input-side", 4096))
        if max(image.size) > limit:
            raise ProviderError(f"image: {image.size[0]}×{image.size[1]} is larger than this upscaler takes"
                                f" ({limit} px a side); upscale a smaller image, or use a super-resolution model")
        upscaled, returned = upscale_image(self.provider, self.model, image, params, ctx, request.generation_id)
        import hashlib

        returned.update({"image": _short(params["image"]), "image_sha256": hashlib.sha256(data).hexdigest(),
                         "image_size": list(image.size), "output_size": list(upscaled.size)})
        return GenerationResult(outputs=(Output(png_bytes(upscaled), "image/png"),), actual=params, returned=returned)


def png_bytes(image) -> bytes:
    """PNG bytes of a PIL image (fast compression: the store may re-encode with metadata)."""
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def upscale_image(provider: DiffusersProvider, model: ModelInfo, image, params: Mapping[str, Any],
                  ctx: RunContext | None, generation_id: str | None) -> tuple[Any, dict[str, Any]]:
    """Upscale the PIL ``image`` with ``model`` (an upscale model of ``provider``); return it and what to record.

    Also used by hires fix (:mod:`.hires`) between its two passes.
    """
    import torch
    from PIL import Image

    factor = int(model.spec.get("x-upscale-factor", 4))
    scale = float(params.get("scale") or factor)
    loaded = provider.pipeline(model, ctx)
    started = time.perf_counter()
    returned: dict[str, Any] = {"device": loaded.device, "dtype": loaded.dtype, "model_path": loaded.location,
                                "model_hash": loaded.fingerprint(), "torch": torch.__version__}

    def cancelled() -> bool:
        return bool(ctx is not None and generation_id and ctx.cancelled(generation_id))

    def progress(done: int, total: int) -> None:
        if ctx is not None and generation_id:
            ctx.progress(generation_id, done, total)

    with loaded.lock:
        if model.family == SR:
            from .tiles import run_tiled, to_image, to_tensor

            sr = loaded.pipe
            x = to_tensor(image, loaded.device, loaded.dtype)
            result = run_tiled(sr.model, x, sr.scale, int(params.get("tile_size", 512)),
                               int(params.get("tile_overlap", 32)), progress, cancelled)
            out = to_image(result.tensor)
            factor = sr.scale
            returned.update({"architecture": sr.architecture, "loader": sr.loader, "tile_size_used": result.tile,
                             "tiles": result.tiles, "oom_retries": result.oom_retries})
        else:
            import diffusers

            pipe = loaded.pipe
            steps = int(params["num_inference_steps"])

            def on_step(step: int, timestep, latents) -> None:
                progress(step + 1, steps)
                if cancelled():
                    raise GenerationCancelled(f"generation {generation_id} was cancelled after step {step + 1} of {steps}")

            device = provider.settings.generator_device or loaded.device
            args: dict[str, Any] = {"prompt": params.get("prompt") or "", "image": image,
                                    "negative_prompt": params.get("negative_prompt") or None,
                                    "num_inference_steps": steps, "guidance_scale": float(params["guidance_scale"]),
                                    "generator": torch.Generator(device).manual_seed(int(params["seed"])),
                                    "callback": on_step, "callback_steps": 1, "output_type": "pil"}
            if model.family == X4:
                args["noise_level"] = int(params["noise_level"])
            out = pipe(**args).images[0]
            returned.update({"seed": int(params["seed"]), "pipeline_class": type(pipe).__name__,
                             "diffusers": diffusers.__version__, "generator_device": device})
    size = (max(1, round(image.size[0] * scale)), max(1, round(image.size[1] * scale)))
    if out.size != size:
        out = out.resize(size, Image.Resampling.LANCZOS)
    returned.update({"scale": scale, "model_factor": factor, "seconds": round(time.perf_counter() - started, 4)})
    return out, returned
