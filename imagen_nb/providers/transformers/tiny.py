"""The offline tiny models of the ``transformers`` provider (DESIGN.md §7): random weights, made locally.

- ``tiny-judge`` (image-to-text): a VisionEncoderDecoder (ViT encoder + GPT-2 decoder), the
  architecture of captioners such as TrOCR/ViT-GPT2, 32 px input.
- ``tiny-rewriter`` (text-to-text): a GPT-2 causal LM.
- ``tiny-clip`` (scores): a CLIPModel with a CLIP tokenizer and image processor.

No weights can be downloaded here, so each is built on first use with seeded random weights,
saved with ``save_pretrained`` and loaded back with ``from_pretrained`` (the real loading path).
**Their text is gibberish and their scores meaningless**: they exist so the whole loop runs offline.
Folders appear atomically (built in a temporary folder, renamed into place).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Callable

from ...core.errors import ProviderError

SEED = 20261205
#: Folder names under the provider's cache; bump the suffix when a recipe changes.
DIRNAMES = {"tiny-judge": "tiny-judge-v2", "tiny-rewriter": "tiny-rewriter-v2", "tiny-clip": "tiny-clip-v1"}
_lock = threading.Lock()


def ensure_tiny(name: str, cache_dir: str | os.PathLike) -> Path:
    """The folder of tiny model ``name`` under ``cache_dir``, built there on first use."""
    path = Path(cache_dir) / DIRNAMES[name]
    if (path / "config.json").is_file():
        return path
    builders: dict[str, Callable[[Path], None]] = {"tiny-judge": _build_judge, "tiny-rewriter": _build_rewriter,
                                                   "tiny-clip": _build_clip}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    try:
        with _lock:
            builders[name](partial)
        os.chmod(partial, 0o755)
        try:
            os.rename(partial, path)
        except OSError as exc:
            if not (path / "config.json").is_file():
                raise ProviderError(f"cannot put the tiny model at {path}: {exc.strerror or exc}; delete that "
                                    "folder if an interrupted build left it, and try again") from exc
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return path


def _gpt2_tokenizer(folder: Path):
    """A byte-level GPT-2 tokenizer over the 256 byte characters (no merges) plus ``<|endoftext|>``."""
    from transformers import GPT2Tokenizer

    from ..diffusers.tiny import _bytes_to_unicode

    folder.mkdir(parents=True, exist_ok=True)
    vocab = {c: i for i, c in enumerate(_bytes_to_unicode().values())}
    vocab["<|endoftext|>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    return GPT2Tokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=512)


def _gpt2_config(vocab: int, **extra):
    from transformers import GPT2Config

    eos = vocab - 1
    return GPT2Config(vocab_size=vocab, n_positions=512, n_embd=32, n_layer=2, n_head=4, bos_token_id=eos,
                      eos_token_id=eos, pad_token_id=eos, **extra)


def _readable(model, tok) -> None:
    """Let the random model write only a-z, space and the end token: gibberish, but printable."""
    allowed = {tok.convert_tokens_to_ids(c) for c in "abcdefghijklmnopqrstuvwxyz"} | {tok.convert_tokens_to_ids("\u0120")}
    allowed.add(len(tok) - 1)
    model.generation_config.suppress_tokens = [i for i in range(len(tok)) if i not in allowed]
    model.generation_config.min_new_tokens = 3  # never an empty answer (a rewriter must write a prompt)


def _build_rewriter(folder: Path) -> None:
    import torch
    from transformers import GPT2LMHeadModel

    with tempfile.TemporaryDirectory() as tmp:
        tok = _gpt2_tokenizer(Path(tmp))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        model = GPT2LMHeadModel(_gpt2_config(len(tok)))
    _readable(model, tok)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)


def _build_judge(folder: Path) -> None:
    import torch
    from transformers import VisionEncoderDecoderConfig, VisionEncoderDecoderModel, ViTConfig
    from transformers.models.vit import ViTImageProcessorPil

    with tempfile.TemporaryDirectory() as tmp:
        tok = _gpt2_tokenizer(Path(tmp))
    enc = ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                    intermediate_size=64)
    dec = _gpt2_config(len(tok), add_cross_attention=True, is_decoder=True)
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(enc, dec)
    config.decoder_start_token_id = config.pad_token_id = config.eos_token_id = len(tok) - 1
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED + 1)
        model = VisionEncoderDecoderModel(config)
    _readable(model, tok)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    ViTImageProcessorPil(size={"height": 32, "width": 32}).save_pretrained(folder)


def make_tiny_clip(seed: int = SEED + 2):
    """A new tiny ``(CLIPModel, CLIPProcessor)`` in memory with seeded random weights (not saved)."""
    import torch
    from transformers import CLIPConfig, CLIPModel, CLIPProcessor
    from transformers.models.clip import CLIPImageProcessorPil

    from ..diffusers.tiny import make_tiny_tokenizer

    with tempfile.TemporaryDirectory() as tmp:
        tok = make_tiny_tokenizer(Path(tmp))
    config = CLIPConfig(
        text_config={"vocab_size": len(tok), "hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4,
                     "num_hidden_layers": 2, "max_position_embeddings": 77, "bos_token_id": tok.bos_token_id,
                     "eos_token_id": tok.eos_token_id, "pad_token_id": tok.pad_token_id},
        vision_config={"image_size": 32, "patch_size": 8, "hidden_size": 32, "intermediate_size": 64,
                       "num_attention_heads": 4, "num_hidden_layers": 2},
        projection_dim=16)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CLIPModel(config)
    processor = CLIPProcessor(image_processor=CLIPImageProcessorPil(size={"shortest_edge": 32},
                                                                    crop_size={"height": 32, "width": 32}),
                              tokenizer=tok)
    return model, processor


def _build_clip(folder: Path) -> None:
    model, processor = make_tiny_clip()
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
