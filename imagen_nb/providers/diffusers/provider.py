"""The built-in ``diffusers`` provider: Stable Diffusion pipelines on this machine's GPU or CPU."""

from __future__ import annotations

import threading

from ...core.records import ModelInfo, ModelLoaded
from ..base import Provider, ProviderContext, RunContext
from .factory import DiffusersFactory
from .models import model_source, resolve_model, tiny_model
from .pipelines import LoadedPipeline, PipelineCache, free, load_pipeline
from .tiny import ensure_tiny_model


class DiffusersProvider(Provider):
    """Runs diffusers pipelines locally: ``tiny``, local model folders and Hugging Face Hub ids.

    Settings: ``device`` (``auto``, ``cuda``, ``cuda:1``, ``mps``, ``cpu``), ``dtype`` (``auto``,
    ``float16``, ``bfloat16``, ``float32``), ``generator_device`` (where the seeded noise is drawn;
    the run device by default), ``max_loaded`` (pipelines kept in memory per device, default 2).
    """

    name = "diffusers"
    execution = "local"

    def __init__(self, context: ProviderContext):
        super().__init__(context)
        self._pipelines = PipelineCache(int(context.settings.get("max_loaded", 2)))
        self._device: str | None = None
        self._tiny_lock = threading.Lock()

    def models(self) -> list[ModelInfo]:
        """``tiny`` (other models are named by folder or hub id; they are not listed)."""
        return [tiny_model()]

    def model(self, name: str) -> ModelInfo:
        """``tiny``, a local folder holding model_index.json, or a hub id ``owner/name``."""
        return resolve_model(name)

    def factory(self, model: ModelInfo) -> DiffusersFactory:
        """A factory for ``model``; pipelines stay in this provider, so this is cheap."""
        return DiffusersFactory(model, self)

    def lane(self, model: ModelInfo) -> str:
        """``diffusers:<device>``: one lane (and worker) per device."""
        return f"{self.name}:{self.device}"

    @property
    def device(self) -> str:
        """The torch device pipelines run on (``settings["device"]``, else cuda, mps or cpu)."""
        if self._device is None:
            from .device import pick_device

            self._device = pick_device(self.context.settings)
        return self._device

    @property
    def dtype(self) -> str:
        """The torch dtype name pipelines are loaded in (float16 on GPUs, float32 on the CPU)."""
        from .device import pick_dtype

        return pick_dtype(self.context.settings, self.device)

    def tiny_path(self):
        """The tiny model's folder under this provider's cache, built on first use."""
        with self._tiny_lock:
            return ensure_tiny_model(self.context.cache_dir(self.name))

    def pipeline(self, model: ModelInfo, ctx: RunContext | None = None) -> LoadedPipeline:
        """The loaded pipeline of ``model`` on this provider's device, loading it when needed.

        Each load publishes :class:`ModelLoaded` on ``ctx``.
        """
        device, dtype = self.device, self.dtype
        source = model_source(model)

        def load() -> LoadedPipeline:
            location = str(self.tiny_path()) if source.kind == "tiny" else source.location
            return load_pipeline(model.id, source.kind, location, source.pipeline_class, device, dtype)

        loaded, fresh = self._pipelines.get((model.id, device, dtype), device, load)
        if fresh and ctx is not None:
            ctx.publish(ModelLoaded(model_id=model.id, device=device, seconds=loaded.load_seconds))
        return loaded

    def close(self) -> None:
        """Drop every loaded pipeline and give cached GPU memory back."""
        free(self._pipelines.clear())
