"""Scorers: numbers a judge gives a product (issue 15), run in-process on batches of images.

- ``clip``: CLIP score of (prompt, image) = 100 × cosine similarity of CLIP's text and image
  embeddings (as torchmetrics' CLIPScore, without its clamp at 0 so that a random-weight model still
  ranks pairs).
- ``aesthetic``: CLIP's image embedding (normalised) through a small MLP head (the LAION aesthetic
  predictor's shape); the head's weights come from ``aesthetic_head.safetensors`` in the CLIP folder.

Images are scored in batches (``batch_size``), never one model call per image.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Sequence

from ...core.errors import ProviderError

#: File name of an aesthetic head's weights, beside the CLIP model it reads.
HEAD_FILE = "aesthetic_head.safetensors"


def _images(items: Sequence[bytes | str | Path]):
    from PIL import Image

    out = []
    for item in items:
        raw = item if isinstance(item, bytes) else Path(item).read_bytes()
        with Image.open(io.BytesIO(raw)) as im:
            out.append(im.convert("RGB"))
    return out


class ClipScorer:
    """CLIP score of prompts against images with a ``CLIPModel`` loaded from ``source`` (folder or hub id)."""

    def __init__(self, source: str | Path, device: str = "cpu", batch_size: int = 32, model=None, processor=None):
        from transformers import CLIPModel, CLIPProcessor

        self.device, self.batch_size = device, batch_size
        self.model = model if model is not None else CLIPModel.from_pretrained(str(source))
        self.processor = processor if processor is not None else CLIPProcessor.from_pretrained(str(source))
        self.model.to(device).eval()
        self._lock = threading.Lock()

    def embed_images(self, images) -> "object":
        """Normalised image embeddings of PIL images (one batch)."""
        import torch

        pixels = self.processor.image_processor(images=images, return_tensors="pt").pixel_values.to(self.device)
        with torch.no_grad():
            emb = self.model.get_image_features(pixel_values=pixels)
        emb = getattr(emb, "pooler_output", emb)
        return emb / emb.norm(dim=-1, keepdim=True)

    def embed_texts(self, prompts: Sequence[str]) -> "object":
        """Normalised text embeddings (prompts cut to CLIP's context)."""
        import torch

        tok = self.processor.tokenizer(list(prompts), padding=True, truncation=True, return_tensors="pt").to(self.device)
        with torch.no_grad():
            emb = self.model.get_text_features(**tok)
        emb = getattr(emb, "pooler_output", emb)
        return emb / emb.norm(dim=-1, keepdim=True)

    def score(self, images: Sequence[bytes | str | Path], prompts: Sequence[str]) -> list[float]:
        """One CLIP score per (image, prompt) pair, computed in batches."""
        if len(images) != len(prompts):
            raise ValueError(f"{len(images)} images but {len(prompts)} prompts: give one prompt per image")
        out: list[float] = []
        with self._lock:
            for start in range(0, len(images), self.batch_size):
                ims = _images(images[start:start + self.batch_size])
                img = self.embed_images(ims)
                txt = self.embed_texts(prompts[start:start + self.batch_size])
                out.extend((100.0 * (img * txt).sum(dim=-1)).tolist())
        return out


class AestheticScorer:
    """CLIP image embedding → MLP head → a number (higher looks better to the head's training data)."""

    def __init__(self, clip: ClipScorer, head_file: str | Path):
        import torch
        from safetensors.torch import load_file

        path = Path(head_file)
        if not path.is_file():
            raise ProviderError(f"no aesthetic head at {path}: put the head's weights ({HEAD_FILE}, tensors "
                                "'layers.N.weight'/'layers.N.bias' of Linear layers) beside the CLIP model")
        state = load_file(str(path))
        layers = sorted({int(k.split(".")[1]) for k in state if k.startswith("layers.")})
        modules = []
        for i, n in enumerate(layers):
            w = state[f"layers.{n}.weight"]
            lin = torch.nn.Linear(w.shape[1], w.shape[0])
            lin.weight.data.copy_(w)
            lin.bias.data.copy_(state[f"layers.{n}.bias"])
            modules.append(lin)
            if i < len(layers) - 1:
                modules.append(torch.nn.ReLU())
        self.head = torch.nn.Sequential(*modules).to(clip.device).eval()
        self.clip = clip

    def score(self, images: Sequence[bytes | str | Path], prompts: Sequence[str] | None = None) -> list[float]:
        """One aesthetic score per image (prompts are ignored)."""
        import torch

        out: list[float] = []
        with self.clip._lock:
            for start in range(0, len(images), self.clip.batch_size):
                emb = self.clip.embed_images(_images(images[start:start + self.clip.batch_size]))
                with torch.no_grad():
                    out.extend(self.head(emb).squeeze(-1).tolist())
        return out


def write_tiny_head(folder: Path, dim: int, seed: int) -> Path:
    """Save a small random aesthetic head (dim → 16 → 1) beside a tiny CLIP; its scores mean nothing."""
    import torch
    from safetensors.torch import save_file

    gen = torch.Generator().manual_seed(seed)
    state = {"layers.0.weight": torch.randn(16, dim, generator=gen) * 0.3, "layers.0.bias": torch.zeros(16),
             "layers.1.weight": torch.randn(1, 16, generator=gen) * 0.3, "layers.1.bias": torch.full((1,), 5.0)}
    path = folder / HEAD_FILE
    save_file(state, str(path))
    return path
