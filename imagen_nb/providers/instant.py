"""The ``instant`` provider: colour swatches made in-process in microseconds.

For trying the studio, its panels and SmartParameters without a GPU or any download, and for
measuring the orchestration around the model (benchmarks). Each image is a two-colour
gradient derived from the prompt and the seed, so different parameters look different.
``step_seconds`` simulates a model's time per step, with progress and cancellation per step.
"""

from __future__ import annotations

import functools
import hashlib
import io
import time
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

from ..core.errors import GenerationCancelled
from ..core.records import GenerationRequest, GenerationResult, ModelInfo, Output
from .base import Factory, Provider, RunContext
from .settings import ProviderSettings, positive_int, setting
from .spec import random_seed

SPEC: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "prompt": {"type": "string", "description": "What to draw (chooses the colours)."},
        "negative_prompt": {"type": "string", "default": ""},
        "seed": {"type": "integer", "minimum": 0, "maximum": 2**32 - 1,
                 "description": "Seed; chosen at random and recorded when omitted."},
        "width": {"type": "integer", "minimum": 8, "maximum": 2048, "multipleOf": 8, "default": 64},
        "height": {"type": "integer", "minimum": 8, "maximum": 2048, "multipleOf": 8, "default": 64},
        "num_inference_steps": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 1},
        "guidance_scale": {"type": "number", "minimum": 0, "maximum": 30, "default": 7.5},
        "num_images_per_prompt": {"type": "integer", "minimum": 1, "maximum": 8, "default": 1},
        "step_seconds": {"type": "number", "minimum": 0, "maximum": 60, "default": 0,
                         "description": "Simulated time per step."},
    },
    "required": ["prompt"],
    "additionalProperties": False,
}

MODEL = ModelInfo(provider="instant", name="swatch", type="text-to-image", family="swatch", spec=SPEC,
                  description="Colour swatches made instantly in-process: for trying the studio without a GPU.")


@functools.lru_cache(maxsize=16)
def _gradient(width: int, height: int):
    from PIL import Image

    return Image.linear_gradient("L").resize((width, height))


def swatch_png(prompt: str, seed: int, width: int, height: int, index: int = 0) -> bytes:
    """A deterministic two-colour gradient PNG for (prompt, seed)."""
    from PIL import Image

    digest = hashlib.blake2b(f"{prompt}\0{seed}\0{index}".encode(), digest_size=6).digest()
    top = Image.new("RGB", (width, height), tuple(digest[:3]))
    bottom = Image.new("RGB", (width, height), tuple(digest[3:]))
    image = Image.composite(bottom, top, _gradient(width, height))
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


class InstantFactory(Factory):
    """Makes swatches; reports each simulated step and stops when cancelled."""

    def run(self, requests: Sequence[GenerationRequest], ctx: RunContext) -> list[GenerationResult | BaseException]:
        """Make one swatch set per request, reporting each simulated step."""
        results: list[GenerationResult | BaseException] = []
        for req in requests:
            results.append(self._one(req, ctx))
        return results

    def _one(self, req: GenerationRequest, ctx: RunContext) -> GenerationResult | BaseException:
        params: dict[str, Any] = dict(req.params)
        if params.get("seed") is None:
            params["seed"] = random_seed(SPEC["properties"]["seed"])
        started = time.perf_counter()
        steps = int(params["num_inference_steps"])
        for step in range(steps):
            if ctx.cancelled(req.generation_id):
                return GenerationCancelled(f"cancelled at step {step} of {steps}")
            if params["step_seconds"]:
                time.sleep(params["step_seconds"])
            if steps > 1 or params["step_seconds"]:
                ctx.progress(req.generation_id, step + 1, steps)
        outputs = tuple(
            Output(swatch_png(params["prompt"], params["seed"], params["width"], params["height"], i))
            for i in range(params["num_images_per_prompt"]))
        return GenerationResult(outputs, actual=params,
                                returned={"seed": params["seed"], "seconds": time.perf_counter() - started})


@dataclass(frozen=True)
class InstantSettings(ProviderSettings):
    """Settings of the ``instant`` provider."""

    provider: ClassVar[str] = "instant"

    concurrency: int | None = setting(4, "Workers of the instant lane (file writes overlap).", positive_int)


class InstantProvider(Provider[InstantSettings]):
    """Provider ``instant`` with the single model ``instant:swatch``."""

    name = "instant"
    execution = "remote"
    Settings = InstantSettings

    def models(self) -> list[ModelInfo]:
        """``instant:swatch``."""
        return [MODEL]

    def factory(self, model: ModelInfo) -> Factory:
        """The swatch factory."""
        return InstantFactory(model)

    @property
    def concurrency(self) -> int:
        """Workers of the instant lane (setting ``concurrency``, default 4: file writes overlap)."""
        return self.settings.concurrency or 4
