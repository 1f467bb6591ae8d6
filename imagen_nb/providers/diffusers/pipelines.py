"""Loading diffusers pipelines and keeping them in memory between orders.

A pipeline is loaded with the real ``from_pretrained`` (a local folder, or the Hugging Face Hub
for users who can reach it), moved to its device and kept in a :class:`~.memory.PipelineCache` keyed
by (model id, device, dtype), within a memory budget, so the next order starts at once. torch and
diffusers are imported inside the functions.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ...core.errors import ProviderError
from .schedulers import make_scheduler

_TRUE = {"1", "on", "yes", "true"}


@dataclass
class LoadedPipeline:
    """A pipeline in memory, with the schedulers made for it and a lock held while it runs.

    A pipeline and its scheduler keep state during a call, so one call at a time uses them.
    """

    pipe: Any
    model_id: str
    location: str
    device: str
    dtype: str
    load_seconds: float
    base_scheduler_config: dict[str, Any]
    schedulers: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Other pipelines over the same modules (``img2img``), made on first use.
    views: dict[str, Any] = field(default_factory=dict)
    #: sha256 fingerprint of the model's files, computed on first use (see :func:`fingerprint`).
    model_hash: str | None = None

    def fingerprint(self) -> str | None:
        """The model files' fingerprint (None for a model not loaded from a local path)."""
        if self.model_hash is None:
            from ..weightfiles import fingerprint

            self.model_hash = fingerprint(self.location)
        return self.model_hash or None

    def use_scheduler(self, name: str):
        """Put scheduler ``name`` on the pipeline (made once per name from the model's config)."""
        scheduler = self.schedulers.get(name)
        if scheduler is None:
            scheduler = self.schedulers[name] = make_scheduler(name, self.base_scheduler_config)
        self.pipe.scheduler = scheduler
        return scheduler

    def img2img(self):
        """The image-to-image pipeline over this pipeline's modules (``from_pipe``: nothing is reloaded).

        Made once; it gets the scheduler last put on the text-to-image pipeline.
        """
        view = self.views.get("img2img")
        if view is None:
            from .img2img import image_to_image_view

            view = self.views["img2img"] = image_to_image_view(self.pipe)
        view.scheduler = self.pipe.scheduler
        return view


def hub_offline() -> bool:
    """True when the Hugging Face Hub must not be contacted (``HF_HUB_OFFLINE``)."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE:
        return True
    try:
        from huggingface_hub import is_offline_mode
    except ImportError:
        return False
    return bool(is_offline_mode())


def _hub_help(repo_id: str) -> str:
    return (
        f"Download {repo_id} where the hub can be reached (e.g. `hf download {repo_id}`) and pass its"
        " local folder as 'diffusers:/path/to/folder', or set HF_HUB_OFFLINE=1 to use only models"
        " already in the Hugging Face cache."
    )


def check_hub_reachable(repo_id: str) -> None:
    """Fail at once, before importing diffusers, when offline and ``repo_id`` is not in the cache."""
    if not hub_offline():
        return
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(repo_id, "model_index.json")
    except Exception:
        cached = None
    if not isinstance(cached, str):
        raise ProviderError(
            f"cannot load {repo_id}: the Hugging Face Hub cannot be reached (HF_HUB_OFFLINE is set) and"
            f" {repo_id} is not in the local cache. {_hub_help(repo_id)}"
        )


def load_pipeline(
    model_id: str, kind: str, location: str, pipeline_class: str, device: str, dtype: str
) -> LoadedPipeline:
    """Load a pipeline with ``from_pretrained``, move it to ``device`` and quiet its progress bar.

    Raises ProviderError saying what to do when the files cannot be had.
    """
    if kind == "hub":
        check_hub_reachable(location)
    from .device import check_device

    check_device(device)
    import diffusers
    import torch

    cls = getattr(diffusers, pipeline_class)
    kwargs: dict[str, Any] = {_dtype_argument(): getattr(torch, dtype)}
    if kind == "hub" and hub_offline():
        kwargs["local_files_only"] = True
    started = time.perf_counter()
    try:
        with quiet_progress_bars():
            pipe = cls.from_pretrained(location, **kwargs)
    except Exception as exc:
        if kind == "hub":
            raise ProviderError(
                f"cannot load {location} from the Hugging Face Hub ({_short(exc)}); the hub may not be"
                f" reachable from here. {_hub_help(location)}"
            ) from exc
        raise ProviderError(f"cannot load {model_id} from {location}: {_short(exc)}") from exc
    return ready(pipe, model_id, location, device, dtype, started)


def load_sr(model_id: str, location: str, device: str, dtype: str) -> LoadedPipeline:
    """Load super-resolution weights (see :mod:`.srnet`) as a LoadedPipeline whose ``pipe`` is the network."""
    from .device import check_device
    from .srnet import load

    check_device(device)
    started = time.perf_counter()
    model = load(location, device, dtype)
    return LoadedPipeline(pipe=model, model_id=model_id, location=location, device=device, dtype=dtype,
                          load_seconds=time.perf_counter() - started, base_scheduler_config={})


def ready(pipe, model_id: str, location: str, device: str, dtype: str, started: float) -> LoadedPipeline:
    """Move a freshly loaded pipeline to ``device``, silence its bars and wrap it.

    ``started`` is the ``time.perf_counter()`` value taken when the load began.
    """
    pipe = pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    return LoadedPipeline(
        pipe=pipe,
        model_id=model_id,
        location=location,
        device=device,
        dtype=dtype,
        load_seconds=time.perf_counter() - started,
        base_scheduler_config=dict(pipe.scheduler.config),
    )


@contextlib.contextmanager
def quiet_progress_bars():
    """Hide diffusers' and transformers' loading/saving bars: from a worker thread they land in whatever cell runs.

    Only libraries already imported are touched (a library not imported draws no bar).
    """
    loggers = [sys.modules.get(name) for name in ("diffusers.utils.logging", "transformers.utils.logging")]
    switched = [m for m in loggers if m is not None and m.is_progress_bar_enabled()]
    for module in switched:
        module.disable_progress_bar()
    try:
        yield
    finally:
        for module in switched:
            module.enable_progress_bar()


def _dtype_argument() -> str:
    """``dtype`` where diffusers accepts it (it deprecates ``torch_dtype``), else ``torch_dtype``."""
    try:
        from diffusers.utils.deprecation_utils import _resolve_dtype  # noqa: F401
    except ImportError:
        return "torch_dtype"
    return "dtype"


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "…"
