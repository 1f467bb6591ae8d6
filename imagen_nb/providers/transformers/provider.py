"""The ``transformers`` provider: local captioners, vision judges, instruction LLMs and scorers.

Models: the built-in offline ``tiny-judge`` (image-to-text) and ``tiny-rewriter`` (text-to-text),
whose text is gibberish (random weights, see :mod:`.tiny`), and any ``transformers`` model by hub id
(``transformers:Salesforce/blip-image-captioning-base``, from the local Hugging Face cache) or folder
(``transformers:/models/florence``). Scorers (:meth:`TransformersProvider.scorer`): ``clip`` and
``aesthetic`` on ``tiny-clip`` or any CLIP folder / hub id.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ...core.errors import ProviderError, UnknownModelError
from ...core.records import ModelInfo
from ..base import Factory, Provider
from ..settings import ProviderSettings, positive_int, setting
from . import specs, tiny

GIBBERISH = "random weights, made offline: its text is gibberish"
TINY_MODELS = {
    "tiny-judge": ModelInfo("transformers", "tiny-judge", "image-to-text", "vision-encoder-decoder",
                            specs.image_to_text_spec(),
                            f"Tiny offline vision judge (ViT + GPT-2, {GIBBERISH}): for trying the refine loop."),
    "tiny-rewriter": ModelInfo("transformers", "tiny-rewriter", "text-to-text", "gpt2", specs.text_to_text_spec(),
                               f"Tiny offline prompt rewriter (GPT-2, {GIBBERISH}): for trying the refine loop."),
}
SCORER_KINDS = ("clip", "aesthetic")


def _device(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be 'auto', 'cuda', 'cuda:1', 'mps' or 'cpu'")
    return value.strip().lower()


@dataclass(frozen=True)
class TransformersSettings(ProviderSettings):
    """Settings of the ``transformers`` provider."""

    provider: ClassVar[str] = "transformers"

    device: str = setting("auto", "Torch device: 'auto' (cuda when present, else cpu), 'cuda', 'cuda:1', 'cpu'.",
                          _device)
    concurrency: int | None = setting(None, "Workers of the lane (default 1: one model call at a time).",
                                      positive_int)
    score_batch: int = setting(32, "Images per CLIP call when scoring.", positive_int)


class TransformersProvider(Provider[TransformersSettings]):
    """Provider ``transformers``: text models and scorers run with Hugging Face ``transformers``."""

    name = "transformers"
    execution = "local"
    Settings = TransformersSettings

    def __init__(self, context):
        super().__init__(context)
        self._lock = threading.Lock()
        self._loaded: dict[str, Any] = {}
        self._scorers: dict[str, Any] = {}
        self._infos: dict[str, ModelInfo] = {}

    @property
    def device(self) -> str:
        """The torch device models run on."""
        wanted = self.settings.device
        if wanted != "auto":
            return wanted
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def models(self) -> list[ModelInfo]:
        """The built-in tiny judge and rewriter (hub ids and folders are resolved by :meth:`model`)."""
        return list(TINY_MODELS.values())

    def model(self, name: str) -> ModelInfo:
        """A tiny model, or a transformers model by folder or hub id (its type read from its config)."""
        if name in TINY_MODELS:
            return TINY_MODELS[name]
        if name in self._infos:
            return self._infos[name]
        if name.startswith("tiny-"):
            raise UnknownModelError(f"provider 'transformers' has no model {name!r}; the tiny ones are "
                                    f"{', '.join(TINY_MODELS)}")
        kind = self._kind_of(name)
        spec = specs.image_to_text_spec() if kind == "image-to-text" else specs.text_to_text_spec()
        info = ModelInfo("transformers", name, kind, "transformers", spec, f"transformers model {name}")
        self._infos[name] = info
        return info

    def _kind_of(self, name: str) -> str:
        folder = Path(name).expanduser()
        try:
            if folder.is_dir():
                config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
                vision = any((folder / f).is_file() for f in ("preprocessor_config.json", "processor_config.json"))
            else:
                from transformers import AutoConfig

                config = AutoConfig.from_pretrained(name).to_dict()
                vision = False
        except Exception as exc:
            raise UnknownModelError(
                f"transformers model {name!r} could not be read ({type(exc).__name__}: {exc}). Give a folder "
                "holding a saved model (config.json) or a hub id already in the Hugging Face cache "
                "(no download happens offline); the offline ones are transformers:tiny-judge and "
                "transformers:tiny-rewriter") from exc
        vision = vision or "vision_config" in config or config.get("model_type") == "vision-encoder-decoder"
        return "image-to-text" if vision else "text-to-text"

    def factory(self, model: ModelInfo) -> Factory:
        """The text factory for an image-to-text or text-to-text model."""
        from .text import TextFactory

        return TextFactory(model, self)

    def source(self, name: str) -> str:
        """Where a model's files are: a tiny model's built folder, else the name (folder or hub id)."""
        if name in tiny.DIRNAMES:
            return str(tiny.ensure_tiny(name, self.context.cache_dir(self.name)))
        return name

    def loaded(self, model: ModelInfo):
        """The loaded model (loaded once, kept while the provider lives)."""
        from .text import Loaded

        with self._lock:
            if model.name not in self._loaded:
                try:
                    self._loaded[model.name] = Loaded(self.source(model.name), model.type, self.device)
                except Exception as exc:
                    raise ProviderError(f"cannot load {model.id}: {type(exc).__name__}: {exc}") from exc
            return self._loaded[model.name]

    def scorer(self, kind: str, name: str = "tiny-clip"):
        """A scorer: ``kind`` ``clip`` or ``aesthetic``, on CLIP model ``name`` (``tiny-clip``, a folder or a hub id).

        The tiny CLIP's aesthetic head is random (made with it): its scores mean nothing.
        """
        from .scoring import HEAD_FILE, AestheticScorer, ClipScorer, write_tiny_head

        if kind not in SCORER_KINDS:
            raise UnknownModelError(f"no scorer kind {kind!r}; use one of {', '.join(SCORER_KINDS)} "
                                    "(or judge:<image-to-text model>)")
        with self._lock:
            key = f"{kind}:{name}"
            if key in self._scorers:
                return self._scorers[key]
            clip = self._scorers.get(f"clip:{name}")
            if clip is None:
                try:
                    clip = ClipScorer(self.source(name), self.device, self.settings.score_batch)
                except Exception as exc:
                    raise UnknownModelError(f"cannot load CLIP model {name!r} for scoring ({type(exc).__name__}: "
                                            f"{exc}); give tiny-clip, a folder with a saved CLIPModel or a "
                                            "cached hub id") from exc
                self._scorers[f"clip:{name}"] = clip
            if kind == "aesthetic":
                folder = Path(self.source(name))
                head = folder / HEAD_FILE
                if name == "tiny-clip" and not head.is_file():
                    write_tiny_head(folder, clip.model.config.projection_dim, tiny.SEED + 3)
                self._scorers[key] = AestheticScorer(clip, head)
            return self._scorers[key]

    def close(self) -> None:
        """Drop loaded models and scorers."""
        with self._lock:
            self._loaded.clear()
            self._scorers.clear()
