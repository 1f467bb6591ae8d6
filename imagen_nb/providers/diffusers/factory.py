"""The factory that runs a diffusers text-to-image model: one pipeline call per request."""

from __future__ import annotations

import io
import secrets
import time
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ...core.errors import GenerationCancelled, ProviderError
from ...core.records import GenerationRequest, GenerationResult, Output
from ..base import Factory, RunContext

if TYPE_CHECKING:
    from ...core.records import ModelInfo
    from .provider import DiffusersProvider

#: Parameters passed to the pipeline under the same (diffusers) names.
PIPELINE_ARGS = (
    "prompt",
    "negative_prompt",
    "width",
    "height",
    "num_inference_steps",
    "guidance_scale",
    "num_images_per_prompt",
)
SEED_LIMIT = 2**32


class DiffusersFactory(Factory):
    """Runs one diffusers model with the pipeline its provider keeps in memory."""

    def __init__(self, model: ModelInfo, provider: DiffusersProvider):
        super().__init__(model)
        self.provider = provider

    def run(
        self, requests: Sequence[GenerationRequest], ctx: RunContext
    ) -> list[GenerationResult | BaseException]:
        """Run each request in turn; a request that fails gets its exception, the others go on."""
        results: list[GenerationResult | BaseException] = []
        for request in requests:
            try:
                results.append(self._run_one(request, ctx))
            except Exception as exc:  # recorded on that generation by the worker, which keeps going
                results.append(_explain(exc, request))
        return results

    def _run_one(self, request: GenerationRequest, ctx: RunContext) -> GenerationResult | GenerationCancelled:
        gid = request.generation_id
        if ctx.cancelled(gid):
            return GenerationCancelled(f"generation {gid} was cancelled before it started")
        params = self.validate(request.params)
        if params.get("seed") is None:
            params["seed"] = secrets.randbelow(SEED_LIMIT)
        loaded = self.provider.pipeline(self.model, ctx)

        import diffusers
        import torch

        state = {"done": 0, "total": int(params["num_inference_steps"]), "interrupted": False}

        def on_step_end(pipe, step: int, timestep, tensors: Mapping[str, Any]) -> dict:
            state["done"] = step + 1
            state["total"] = int(getattr(pipe, "num_timesteps", None) or state["total"])
            ctx.progress(gid, step + 1, state["total"])
            if ctx.cancelled(gid):
                # The pipeline skips the remaining steps but still decodes the latents: the
                # result of an interrupted call is discarded below.
                pipe._interrupt = True
                state["interrupted"] = True
            return {}

        with loaded.lock:
            scheduler = loaded.use_scheduler(params["scheduler"])
            generator_device = str(self.provider.context.settings.get("generator_device") or loaded.device)
            generator = torch.Generator(generator_device).manual_seed(int(params["seed"]))
            started = time.perf_counter()
            output = loaded.pipe(
                **{name: params[name] for name in PIPELINE_ARGS if name in params},
                generator=generator,
                callback_on_step_end=on_step_end,
                output_type="pil",
            )
            seconds = time.perf_counter() - started

        if state["interrupted"] or ctx.cancelled(gid):
            return GenerationCancelled(
                f"generation {gid} was cancelled after step {state['done']} of {state['total']}"
            )
        returned: dict[str, Any] = {
            "seed": params["seed"],
            "scheduler": params["scheduler"],
            "scheduler_class": type(scheduler).__name__,
            "pipeline_class": type(loaded.pipe).__name__,
            "device": loaded.device,
            "generator_device": generator_device,
            "dtype": loaded.dtype,
            "torch": torch.__version__,
            "diffusers": diffusers.__version__,
            "seconds": round(seconds, 4),
            "model_path": loaded.location,
        }
        nsfw = getattr(output, "nsfw_content_detected", None)
        if nsfw is not None:
            returned["nsfw_content_detected"] = [bool(flag) for flag in nsfw]
        outputs = tuple(Output(_png(image), "image/png") for image in output.images)
        return GenerationResult(outputs=outputs, actual=params, returned=returned)


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
