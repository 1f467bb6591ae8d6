"""Frozen records that travel between layers: models, requests, results and events."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Mapping

MODEL_TYPES = (
    "text-to-image",
    "image-to-image",
    "text-to-video",
    "image-to-video",
    "text-to-audio",
    "image-to-text",
    "text-to-text",
    "upscale",
)


@dataclass(frozen=True)
class ModelInfo:
    """One runnable model of a provider.

    Args:
        provider: provider name (``diffusers``, ``fal``…).
        name: model name within the provider (``tiny``, ``runwayml/stable-diffusion-v1-5``).
        type: one of :data:`MODEL_TYPES`.
        family: capability family (``stable-diffusion-1``, ``sdxl``, ``flux``…).
        spec: JSON Schema (draft 2020-12) of the generation parameters.
        description: one line a user reads when choosing a model.
    """

    provider: str
    name: str
    type: str
    family: str
    spec: Mapping[str, Any]
    description: str = ""

    @property
    def id(self) -> str:
        """``<provider>:<name>``."""
        return f"{self.provider}:{self.name}"

    @property
    def supports_image_to_image(self) -> bool:
        """True when the model also starts from an image: its spec has an ``image`` file input.

        Diffusers models take an optional ``image`` (and ``strength``) besides their text-to-image
        parameters; variations (``product.vary()``) need such a model.
        """
        props = self.spec.get("properties", {}) if isinstance(self.spec, Mapping) else {}
        image = props.get("image") if isinstance(props, Mapping) else None
        return isinstance(image, Mapping) and (
            image.get("format") == "uri"
            or any(k.startswith("x-") and k.endswith("-file") and v for k, v in image.items()))


@dataclass(frozen=True)
class GenerationRequest:
    """One generation handed to a factory: its id and its validated parameter set."""

    generation_id: str
    order_id: str
    model_id: str
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Output:
    """One file a provider produced, as bytes (an image, later video or audio)."""

    data: bytes
    media_type: str = "image/png"


@dataclass(frozen=True)
class GenerationResult:
    """What a factory returns for one request.

    Args:
        outputs: the produced files.
        actual: the parameter set actually sent (defaults filled, provider names, no secrets).
        returned: what the provider reports it used (seed, timings, versions…).
    """

    outputs: tuple[Output, ...]
    actual: Mapping[str, Any] = field(default_factory=dict)
    returned: Mapping[str, Any] = field(default_factory=dict)


# ---- events published on the Studio's event bus -------------------------------------------


@dataclass(frozen=True)
class Event:
    """Base of every event; ``at`` is ``time.time()`` when it was made."""

    at: float = field(default_factory=time.time, kw_only=True)


@dataclass(frozen=True)
class OrderQueued(Event):
    """An order's generations were queued on a lane."""
    order_id: str
    generations: int


@dataclass(frozen=True)
class ModelLoaded(Event):
    """A provider loaded a model into memory (from disk or a hub); seconds it took."""

    model_id: str
    device: str
    seconds: float


@dataclass(frozen=True)
class ModelDownload(Event):
    """A model or LoRA file arriving from civitai (``studio.add_model(ref)``): bytes so far of
    ``total`` (None when unknown); ``state`` is ``downloading``, ``done``, ``failed`` or ``cancelled`` (both with ``error``)."""

    ref: str
    file_name: str
    done: int
    total: int | None
    state: str = "downloading"
    error: str | None = None


@dataclass(frozen=True)
class ModelUnloaded(Event):
    """A provider dropped a model from memory to make room for another; bytes its weights held,
    seconds freeing took and why (``memory_budget`` or ``max_loaded``)."""

    model_id: str
    device: str
    nbytes: int
    seconds: float
    reason: str


@dataclass(frozen=True)
class GenerationStarted(Event):
    """A worker started a generation."""
    order_id: str
    generation_id: str


@dataclass(frozen=True)
class GenerationProgress(Event):
    """Step ``step`` of ``total`` of one generation is done."""

    order_id: str
    generation_id: str
    step: int
    total: int


@dataclass(frozen=True)
class ProductReady(Event):
    """A product file exists and its catalog row is committed."""

    order_id: str
    generation_id: str
    product_id: str
    path: str


@dataclass(frozen=True)
class GenerationFinished(Event):
    """A generation reached a final status (complete, failed or cancelled); committed.

    ``total``, ``complete``, ``failed`` and ``cancelled`` are its order's counts right after it.
    """

    order_id: str
    generation_id: str
    status: str
    error_type: str | None = None
    error_message: str | None = None
    total: int = 0
    complete: int = 0
    failed: int = 0
    cancelled: int = 0


@dataclass(frozen=True)
class OrderFinished(Event):
    """Every generation of an order is final and committed; ``status`` is the order's."""
    order_id: str
    status: str
    complete: int
    failed: int
    cancelled: int


@dataclass(frozen=True)
class ApiCall(Event):
    """One HTTP call a remote provider made for a generation (recorded in the ``api_calls`` table).

    ``endpoint`` never carries a key or a signed query string; ``error`` is the provider's
    message when the call failed.
    """

    provider: str
    generation_id: str
    method: str
    endpoint: str
    status_code: int | None
    duration: float
    request_id: str | None = None
    attempt: int = 1
    error: str | None = None
    order_id: str = ""


@dataclass(frozen=True)
class QueuePaused(Event):
    """No new generation starts until :class:`QueueResumed`; ``message`` says why in plain words.

    ``reason`` is ``"disk_full"``: a product file or catalog row could not be written (the
    generation waits with its result, nothing is lost). ``free`` is bytes free at the pause.
    """

    reason: str
    message: str
    path: str = ""
    free: int = 0


@dataclass(frozen=True)
class QueueResumed(Event):
    """The queue paused by :class:`QueuePaused` runs again (``free`` bytes are free now)."""

    reason: str
    message: str
    path: str = ""
    free: int = 0


@dataclass(frozen=True)
class RefinementChanged(Event):
    """A refinement moved on (a round's step, a prompt finished, cancelled): panels re-read it."""

    refinement_id: str
