"""The built-in ``diffusers`` provider: Stable Diffusion pipelines on this machine's GPU or CPU."""

from __future__ import annotations

import threading
from pathlib import Path

from ...core.errors import ProviderError, UnknownModelError
from ...core.records import ModelInfo, ModelLoaded, ModelUnloaded
from ..base import Provider, ProviderContext, RunContext
from ..health import Health
from .factory import DiffusersFactory
from . import folders
from .memory import Eviction, MemoryBudget, PipelineCache, estimate_bytes, hub_snapshot, release
from .models import ModelSource, model_source, resolve_model, tiny_model
from .pipelines import LoadedPipeline, load_pipeline, load_sr
from .settings import DiffusersSettings
from .tiny import ensure_tiny_esrgan, ensure_tiny_model, ensure_tiny_upscaler
from .upscalers import TINY_ESRGAN, TINY_UPSCALER, UPSCALE, UpscaleFactory, tiny_esrgan_model, tiny_upscaler_model


class DiffusersProvider(Provider[DiffusersSettings]):
    """Runs diffusers pipelines locally: ``tiny``, local model folders and Hugging Face Hub ids.

    Settings: the fields of :class:`~.settings.DiffusersSettings` (device, dtype, memory budget,
    model and LoRA folders, batching, VAE tiling…), checked when the studio opens.
    """

    name = "diffusers"
    execution = "local"
    Settings = DiffusersSettings

    def __init__(self, context: ProviderContext):
        super().__init__(context)
        self._pipelines = PipelineCache(MemoryBudget(self.settings.memory_budget), self.settings.max_loaded)
        self._device: str | None = None
        self._tiny_lock = threading.Lock()

    def models(self) -> list[ModelInfo]:
        """``tiny`` and the models of the model folder (others are named by path or hub id)."""
        return [tiny_model(), tiny_upscaler_model(), tiny_esrgan_model()] + [m.info for m in folders.scan(self.model_dir)]

    def loras(self, model: ModelInfo) -> list[str]:
        """The LoRA files in the LoRA folder (setting ``lora_dir``, default ``<home>/loras``), by name."""
        from .loras import PARAM, available, lora_folder

        props = model.spec.get("properties", {}) if isinstance(model.spec, dict) else {}
        return available(lora_folder(self.context)) if PARAM in props else []

    def model(self, name: str) -> ModelInfo:
        """``tiny``, a name in the model folder, a local folder or checkpoint, or a hub id ``owner/name``."""
        local = folders.find(self.model_dir, name.strip()) if isinstance(name, str) else None
        if local is not None:
            return local.info
        try:
            return resolve_model(name)
        except UnknownModelError as exc:
            if not isinstance(name, str) or not folders.is_plain_name(name.strip()):
                raise
            raise folders.unknown_name(self.model_dir, name.strip()) from exc

    @property
    def model_dir(self) -> Path:
        """The model folder (setting ``model_dir``, default ``<home>/models``)."""
        return folders.model_dir(self.settings, self.context.home)

    def add_model(self, path, name: str | None = None) -> ModelInfo:
        """Link the diffusers folder or checkpoint at ``path`` into the model folder as ``name``."""
        return folders.add_model(self.model_dir, path, name).info

    def factory(self, model: ModelInfo) -> DiffusersFactory | UpscaleFactory:
        """A factory for ``model``; pipelines stay in this provider, so this is cheap."""
        if model.type == UPSCALE:
            return UpscaleFactory(model, self)
        return DiffusersFactory(model, self)

    def lane(self, model: ModelInfo) -> str:
        """``diffusers:<device>``: one lane (and worker) per device."""
        return f"{self.name}:{self.device}"

    @property
    def device(self) -> str:
        """The torch device pipelines run on (``settings["device"]``, else cuda, mps or cpu)."""
        if self._device is None:
            from .device import pick_device

            self._device = pick_device(self.settings)
        return self._device

    @property
    def dtype(self) -> str:
        """The torch dtype name pipelines are loaded in (float16 on GPUs, float32 on the CPU)."""
        from .device import pick_dtype

        return pick_dtype(self.settings, self.device)

    def dtype_for(self, model: ModelInfo) -> str:
        """The dtype ``model``'s pipeline loads in: :attr:`dtype`, except ``diffusers:tiny``, always float32
        (its colour-codec VAE carries colours at ~3e-5, under float16's normal range; tiny saves nothing
        in half precision anyway)."""
        return "float32" if model.id == tiny_model().id else self.dtype

    def lora_folder(self) -> Path:
        """The LoRA folder (setting ``lora_dir``, default ``<home>/loras``); it need not exist."""
        from .loras import lora_folder

        return lora_folder(self.context)

    def training_location(self, model: ModelInfo) -> str:
        """Where the diffusers folder (or hub id) of ``model`` is, to train a LoRA on it.

        Raises:
            ProviderError: a family the trainer cannot teach, or a single-file checkpoint.
        """
        from .training import check_trainable

        check_trainable(model)
        where = self._source(model)
        if where.kind == "file":
            raise ProviderError(
                f"{model.id} is a single-file checkpoint; LoRA training loads a diffusers folder. Save it as one"
                " (StableDiffusionPipeline.from_single_file(path).save_pretrained(folder)) and train on that folder.")
        return str(self.tiny_path()) if where.kind == "tiny" else where.location

    def trainer(self, model: ModelInfo, examples, config, metadata):
        """A :class:`~.training.LoraTrainer` for ``model`` on this provider's device (nothing is loaded yet)."""
        from .training import LoraTrainer

        return LoraTrainer(model, self.training_location(model), examples, config, self.device, metadata)

    def tiny_path(self, model: ModelInfo | None = None):
        """The folder (or file) of a built-in tiny model under this provider's cache, built on first use.

        ``model`` picks ``tiny-upscaler`` or ``tiny-esrgan``; default ``tiny``.
        """
        name = model.name if model is not None else "tiny"
        with self._tiny_lock:
            cache = self.context.cache_dir(self.name)
            if name == TINY_UPSCALER:
                return ensure_tiny_upscaler(cache)
            if name == TINY_ESRGAN:
                return ensure_tiny_esrgan(cache)
            return ensure_tiny_model(cache)

    def pipeline(self, model: ModelInfo, ctx: RunContext | None = None) -> LoadedPipeline:
        """The loaded pipeline of ``model`` on this provider's device, loading it when needed.

        Each load publishes :class:`ModelLoaded` on ``ctx``.
        """
        device, dtype = self.device, self.dtype_for(model)
        found: list[ModelSource] = []

        def source() -> ModelSource:  # looked up only when the pipeline is not loaded
            if not found:
                found.append(self._source(model))
            return found[0]

        def load() -> LoadedPipeline:
            where = source()
            location = str(self.tiny_path(model)) if where.kind == "tiny" or not where.location else where.location
            if where.kind == "sr":
                return load_sr(model.id, location, device, dtype)
            if where.kind == "file":
                return self._load_file(model, location, device, dtype)
            return load_pipeline(model.id, where.kind, location, where.pipeline_class, device, dtype)

        def estimate() -> int | None:
            where = source()
            if where.kind == "hub":
                return estimate_bytes(hub_snapshot(where.location), dtype)
            return estimate_bytes(self.tiny_path(model) if where.kind == "tiny" or not where.location
                                  else where.location, dtype)

        def evicted(record: Eviction, seconds: float) -> None:
            if ctx is not None:
                ctx.publish(ModelUnloaded(model_id=record.model_id, device=record.device, nbytes=record.nbytes,
                                          seconds=seconds, reason=record.reason))

        loaded, fresh = self._pipelines.get((model.id, device, dtype), device, load, estimate=estimate,
                                            on_evict=evicted)
        if fresh and ctx is not None:
            ctx.publish(ModelLoaded(model_id=model.id, device=device, seconds=loaded.load_seconds))
        return loaded

    def _source(self, model: ModelInfo) -> ModelSource:
        """Where ``model``'s files are: the model folder first, then what its name says."""
        local = folders.find(self.model_dir, model.name) if model.name != "tiny" and "/" not in model.name else None
        if local is not None:
            return ModelSource(local.kind, str(local.path), model_source(model).pipeline_class)  # type: ignore[arg-type]
        return model_source(model)

    def _load_file(self, model: ModelInfo, location: str, device: str, dtype: str) -> LoadedPipeline:
        """Load a single-file checkpoint, with the configs of a fitting folder in the model folder if any."""
        from .checkpoints import checkpoint_info, load_single_file, unusual_widths_help, usual_widths

        config = (self.settings.single_file_configs or {}).get(model.family)
        if config is None and self.model_dir.is_dir():
            config = folders.config_folder(self.model_dir, model.family, Path(location))
        if config is None and Path(location).suffix == ".safetensors":
            info = checkpoint_info(location)
            if not usual_widths(info):  # the hub's configs cannot build it: say so before any download
                raise ProviderError(unusual_widths_help(model.id, location, info))
        return load_single_file(model.id, location, model.family, device, dtype, config=config)

    def health(self, reach: bool = False) -> Health:
        """The device pipelines would run on, whether torch can use it, and its total and free memory.

        ``reach`` changes nothing here (local models need no network once their files are here).
        """
        from ..health import free_ram
        from .memory import device_total_bytes

        try:
            import torch

            device = self.device
            from .device import check_device

            check_device(device)
        except Exception as exc:  # torch missing, or a device setting this machine cannot honour
            return Health(self.name, "local", False, device=self._device, detail=str(exc))
        total, free = device_total_bytes(device), None
        if device.startswith("cuda"):
            free, total = (int(x) for x in torch.cuda.mem_get_info(torch.device(device)))
        elif device == "cpu":
            free = free_ram()
        loaded = len(self._pipelines)
        detail = f"torch {torch.__version__} on {device}, dtype {self.dtype}"
        if loaded:
            detail += f"; {loaded} model(s) loaded"
        return Health(self.name, "local", True, device=device, memory_total=total, memory_free=free, detail=detail)

    def close(self) -> None:
        """Drop every loaded pipeline and give cached GPU memory back."""
        release(self._pipelines.clear())

