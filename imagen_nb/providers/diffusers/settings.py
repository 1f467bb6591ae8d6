"""The diffusers provider's settings: ``Studio(providers={"diffusers": {...}})``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

from ..settings import ProviderSettings, auto_or_flag, flag, positive_int, setting, text
from .device import DTYPES
from .memory import parse_budget

#: Above this many pixels the VAE decodes in tiles by default (setting ``vae_tiling_min_pixels``).
VAE_TILING_MIN_PIXELS = 1024 * 1024
#: LoRAs kept loaded per pipeline by default (setting ``max_loras``).
DEFAULT_MAX_LORAS = 8


def _device(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be 'auto', 'cuda', 'cuda:1', 'mps' or 'cpu'")
    return value.strip().lower()


def _dtype(value: Any) -> str:
    wanted = str(value).strip().lower()
    if wanted != "auto" and wanted not in DTYPES:
        raise ValueError("must be one of auto, float16, bfloat16, float32")
    return wanted if wanted == "auto" else DTYPES[wanted]


def _budget(value: Any) -> Any:
    parse_budget(value)  # raises SettingsError naming the accepted forms
    return value


def _path(value: Any) -> str:
    if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
        raise ValueError("must be the path of a folder")
    return os.fspath(value)


def _configs(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ValueError("must be a dict of family → the path of a diffusers folder,"
                         " e.g. {'stable-diffusion-1': '~/models/sd15'}")
    return {k: _path(v) for k, v in value.items()}


@dataclass(frozen=True)
class DiffusersSettings(ProviderSettings):
    """Settings of the ``diffusers`` provider (local pipelines on this machine's GPU or CPU)."""

    provider: ClassVar[str] = "diffusers"

    device: str = setting("auto", "Torch device: 'auto' (cuda, then mps, then cpu), 'cuda', 'cuda:1', 'mps', 'cpu'.",
                          _device)
    dtype: str = setting("auto", "Weights' dtype: 'auto' (float16 on GPUs, float32 on the CPU), 'float16',"
                         " 'bfloat16', 'float32'.", _dtype)
    generator_device: str | None = setting(None, "Where the seeded noise is drawn (default: the run device).",
                                           text)
    memory_budget: Any = setting(None, "Bytes of weights kept loaded per device: an int, '6GB', '80%' (default:"
                                 " 80% of a GPU, half the RAM); least recently used pipelines are dropped.",
                                 _budget)
    max_loaded: int | None = setting(None, "Most pipelines kept loaded per device (default: no count cap).",
                                     positive_int)
    model_dir: str | None = setting(None, "The model folder listed by studio.models() (default <home>/models).",
                                    _path)
    single_file_configs: dict[str, str] | None = setting(
        None, "Family → a local diffusers folder whose configs single-file checkpoints of that family load"
        " with, offline (default: a folder of the model folder with the same family and widths).", _configs)
    lora_dir: str | None = setting(None, "Where loras=[{'name': …}] looks (default <home>/loras).", _path)
    max_loras: int = setting(DEFAULT_MAX_LORAS, "LoRAs kept loaded per pipeline.", positive_int)
    batch: bool = setting(True, "False: one pipeline call per generation (no batching).", flag)
    vae_tiling: str | bool = setting("auto", "Decode in tiles: 'auto' (above vae_tiling_min_pixels), True,"
                                     " False.", auto_or_flag)
    vae_slicing: str | bool = setting("auto", "Decode a batch one image at a time: 'auto' (several images on"
                                      " a GPU), True, False.", auto_or_flag)
    attention_slicing: str | bool = setting("auto", "Slice attention: 'auto' (on Apple MPS only), True,"
                                            " False.", auto_or_flag)
    vae_tiling_min_pixels: int = setting(VAE_TILING_MIN_PIXELS, "Pixels above which 'auto' tiles the VAE"
                                         " decode.", positive_int)
