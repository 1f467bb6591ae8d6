"""The factory that runs a diffusers text-to-image model: one pipeline call per batch of requests."""

from __future__ import annotations

import io
import time
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ...core.errors import GenerationCancelled, ProviderError
from ...core.records import GenerationRequest, GenerationResult, Output
from ..base import Factory, RunContext
from ..checks import Check, spec_check
from ..spec import random_seed
from . import hires, img2img, loras
from .loras import LoraSet, lora_key

if TYPE_CHECKING:
    from ...core.records import ModelInfo
    from .provider import DiffusersProvider
    from .settings import DiffusersSettings

#: Parameters passed to the pipeline under the same (diffusers) names.
PIPELINE_ARGS = (
    "prompt",
    "negative_prompt",
    "width",
    "height",
    "num_inference_steps",
    "guidance_scale",
    "num_images_per_prompt",
    "clip_skip",
)
#: Parameters that must be equal for generations to share one pipeline call.
#: Text-to-image and image-to-image never share a call (``image`` is None for the first).
BATCH_KEY = ("width", "height", "num_inference_steps", "guidance_scale", "scheduler", "image", "strength",
             "clip_skip")


class DiffusersFactory(Factory):
    """Runs one diffusers model with the pipeline its provider keeps in memory.

    With an ``image`` a generation runs image-to-image (see :mod:`.img2img`).
    """

    def __init__(self, model: ModelInfo, provider: DiffusersProvider):
        super().__init__(model)
        self.provider = provider

    def checks(self) -> list[Check]:
        """``loras-form``, ``spec``, ``lora-files``, the image-to-image rules (see :func:`.img2img.checks`),
        then the hires-fix rules (see :func:`.hires.checks`)."""
        return [loras.form_check(), spec_check(self.model.spec, self.model.id),
                loras.files_check(self.provider.context), *img2img.checks(), *hires.checks(self.provider)]

    def batch_key(self, params: Mapping[str, Any]):
        """Generations that share size, steps, guidance, scheduler and LoRA set run as one pipeline call.

        Prompts, negative prompts and seeds may differ within a batch (each sample has its own
        generator). Setting ``batch: false`` turns batching off.
        """
        if not self.provider.settings.batch:
            return None
        if int(params.get("num_images_per_prompt", 1) or 1) != 1 or params.get(hires.SCALE):
            return None
        return tuple(params.get(k) for k in BATCH_KEY) + (lora_key(params.get("loras")),)

    def run(
        self, requests: Sequence[GenerationRequest], ctx: RunContext
    ) -> list[GenerationResult | BaseException]:
        """Run the requests as one pipeline call; if that call fails, each request fails alone."""
        try:
            return self._run_many(list(requests), ctx)
        except Exception as exc:
            if len(requests) == 1:
                return [_explain(exc, requests[0])]
        # A batch failed as a whole: run its requests one by one so only the bad one fails.
        results: list[GenerationResult | BaseException] = []
        for request in requests:
            try:
                results.extend(self._run_many([request], ctx))
            except Exception as exc:  # recorded on that generation by the worker, which keeps going
                results.append(_explain(exc, request))
        return results

    def _run_many(self, requests: list[GenerationRequest], ctx: RunContext) -> list[GenerationResult | BaseException]:
        gids = [r.generation_id for r in requests]
        live = [i for i, gid in enumerate(gids) if not ctx.cancelled(gid)]
        results: list[GenerationResult | BaseException] = [
            GenerationCancelled(f"generation {gid} was cancelled before it started") for gid in gids]
        if not live:
            return results
        requests = [requests[i] for i in live]
        gids = [gids[i] for i in live]
        param_sets = []
        for request in requests:
            params = self.validate(request.params)
            if params.get("seed") is None:
                params["seed"] = random_seed(self.model.spec.get("properties", {}).get("seed"))
            param_sets.append(params)
        # Input images are read before the model loads: a missing file fails at once.
        param_sets, inputs = img2img.load_inputs(param_sets, self.model.spec)
        lora_set = LoraSet.of(param_sets[0], self.provider.context)  # LoRA files found and hashed likewise
        loaded = self.provider.pipeline(self.model, ctx)

        import diffusers
        import torch

        first = param_sets[0]
        extra = hires.steps(first) if first.get(hires.SCALE) else 0
        state = {"done": 0, "total": img2img.steps_run(first) + extra, "interrupted": False, "offset": 0}

        def on_step_end(pipe, step: int, timestep, tensors: Mapping[str, Any]) -> dict:
            state["done"] = state["offset"] + step + 1
            if not state["offset"]:
                state["total"] = int(getattr(pipe, "num_timesteps", None) or state["total"] - extra) + extra
            for gid in gids:
                ctx.progress(gid, state["done"], state["total"])
            if all(ctx.cancelled(gid) for gid in gids):
                # The pipeline skips the remaining steps but still decodes the latents: the
                # result of an interrupted call is discarded below.
                pipe._interrupt = True
                state["interrupted"] = True
            return {}

        batched = len(requests) > 1
        with loaded.lock:
            scheduler = loaded.use_scheduler(first["scheduler"])
            lora_seconds = lora_set.apply(loaded.pipe, self.model)  # before any step: a misfit fails here
            generator_device = self.provider.settings.generator_device or loaded.device
            generators = [torch.Generator(generator_device).manual_seed(int(p["seed"])) for p in param_sets]
            args = {name: first[name] for name in PIPELINE_ARGS if name in first}
            if batched:
                args["prompt"] = [p["prompt"] for p in param_sets]
                args["negative_prompt"] = [p.get("negative_prompt") or "" for p in param_sets]
            pipe, args = img2img.prepare_call(loaded, args, param_sets, inputs)
            if args.get("clip_skip"):
                _clip_skip_compat(pipe)
            memory = memory_options(pipe, self.provider.settings, loaded.device,
                                    int(first.get("width") or 0) * int(first.get("height") or 0),
                                    len(param_sets) * (1 if batched else int(first.get("num_images_per_prompt") or 1)))
            started = time.perf_counter()
            output = pipe(
                **args,
                generator=generators if batched else generators[0],
                callback_on_step_end=on_step_end,
                output_type="pil",
            )
            hires_record: dict[str, Any] = {}
            if extra and not state["interrupted"]:
                output, hires_record = self._hires(loaded, output, args, first, state, generator_device,
                                                   on_step_end, ctx, gids[0])
            seconds = time.perf_counter() - started

        per_prompt = 1 if batched else int(first.get("num_images_per_prompt", 1) or 1)
        nsfw = getattr(output, "nsfw_content_detected", None)
        for k, (gid, params) in enumerate(zip(gids, param_sets)):
            if state["interrupted"] or ctx.cancelled(gid):
                results[live[k]] = GenerationCancelled(
                    f"generation {gid} was cancelled after step {state['done']} of {state['total']}")
                continue
            returned: dict[str, Any] = {
                "seed": params["seed"],
                "scheduler": params["scheduler"],
                "scheduler_class": type(scheduler).__name__,
                "scheduler_config": {k: v for k, v in dict(scheduler.config).items() if not k.startswith("_")},
                "model_hash": loaded.fingerprint(),
                **memory,
                "pipeline_class": type(pipe).__name__,
                "device": loaded.device,
                "generator_device": generator_device,
                "dtype": loaded.dtype,
                "torch": torch.__version__,
                "diffusers": diffusers.__version__,
                "seconds": round(seconds / len(gids), 4),
                "batch_size": len(gids),
                "model_path": loaded.location,
            }
            images = output.images[k * per_prompt:(k + 1) * per_prompt]
            if nsfw is not None:
                returned["nsfw_content_detected"] = [bool(f) for f in nsfw[k * per_prompt:(k + 1) * per_prompt]]
            returned.update(img2img.returned_fields(params, inputs[k]))
            returned.update(lora_set.returned_fields(lora_seconds))
            if hires_record:
                returned["hires"] = hires_record
            results[live[k]] = GenerationResult(outputs=tuple(Output(_png(im), "image/png") for im in images),
                                                actual=params, returned=returned)
        return results

    def _hires(self, loaded, output, args, params, state, generator_device, on_step_end, ctx, gid):
        """The hires fix's second and third passes over each image of ``output`` (see :mod:`.hires`)."""
        import torch

        base = output.images[0].size
        state["offset"] = state["done"]
        images, record = [], {}
        for image in output.images:
            big, record = hires.enlarge(self.provider, image, params, ctx, gid)
            generator = torch.Generator(generator_device).manual_seed(int(params["seed"]))
            state["offset"] = state["total"] - hires.steps(params)
            images.append(hires.redraw(loaded, args, big, params, generator, on_step_end))
            if state["interrupted"]:
                break
        output.images = images
        width, height = hires.target(params)
        record = {**record, "base_size": [base[0], base[1]], "size": [width, height],
                  "strength": float(params[hires.STRENGTH]), "denoising_steps": hires.steps(params)}
        return output, record


def memory_options(pipe, settings: DiffusersSettings, device: str, pixels: int, images: int) -> dict[str, bool]:
    """Switch VAE tiling/slicing and attention slicing for this call; return what was chosen.

    ``auto`` (the default of settings ``vae_tiling``, ``vae_slicing``, ``attention_slicing``):
    tiling for images above ``vae_tiling_min_pixels`` (1024² by default), where a whole-image
    decode spikes memory; slicing the VAE batch when several images decode on a GPU; attention
    slicing only on Apple MPS, where it lowers peak memory (on CUDA, SDPA attention is already
    memory-efficient and slicing only costs time).
    """
    tiling, slicing, attention = settings.vae_tiling, settings.vae_slicing, settings.attention_slicing
    gpu = not device.startswith("cpu")
    if tiling == "auto":
        tiling = pixels > settings.vae_tiling_min_pixels
    if slicing == "auto":
        slicing = gpu and images > 1
    if attention == "auto":
        attention = device.startswith("mps")
    vae = getattr(pipe, "vae", None)
    if vae is not None:
        vae.enable_tiling() if tiling else vae.disable_tiling()
        vae.enable_slicing() if slicing else vae.disable_slicing()
    if hasattr(pipe, "enable_attention_slicing"):
        pipe.enable_attention_slicing() if attention else pipe.disable_attention_slicing()
    return {"vae_tiling": bool(tiling), "vae_slicing": bool(slicing), "attention_slicing": bool(attention)}


def _clip_skip_compat(pipe) -> None:
    """Let diffusers' clip_skip path find the final layer norm under transformers 5.

    diffusers 0.42 reads ``text_encoder.text_model.final_layer_norm``; transformers 5 flattened
    CLIPTextModel so the norm sits on the model itself. The alias goes in ``__dict__`` (not
    ``_modules``), so it adds no submodule cycle to state dicts or ``.modules()``.
    """
    for name in ("text_encoder", "text_encoder_2"):
        encoder = getattr(pipe, name, None)
        if encoder is not None and "text_model" not in dir(encoder) and hasattr(encoder, "final_layer_norm"):
            object.__setattr__(encoder, "text_model", encoder)


def _png(image) -> bytes:
    """PNG bytes of a PIL image (fast compression: the store may re-encode with metadata)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _explain(exc: Exception, request: GenerationRequest) -> Exception:
    """Turn an out-of-memory error into one that says what to lower; other errors pass unchanged."""
    if type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower():
        p = request.params
        error = ProviderError(
            f"out of memory at {p.get('width', '?')}×{p.get('height', '?')} with"
            f" {p.get('num_images_per_prompt', 1)} image(s) per generation: lower width/height or"
            " num_images_per_prompt, or run on a device with more memory."
        )
        error.__cause__ = exc
        return error
    return exc
