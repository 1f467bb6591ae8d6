"""Which torch device and dtype the diffusers provider runs on (torch imported on first call)."""

from __future__ import annotations

from typing import Any, Mapping

from ...core.errors import ProviderError

#: dtype names a user may write → the torch dtype name.
DTYPES = {
    "float16": "float16", "fp16": "float16", "half": "float16",
    "bfloat16": "bfloat16", "bf16": "bfloat16",
    "float32": "float32", "fp32": "float32", "float": "float32",
}


def pick_device(settings: Mapping[str, Any]) -> str:
    """``settings["device"]`` when set (and not ``"auto"``), else cuda, then mps, then cpu."""
    wanted = str(settings.get("device") or "auto").strip().lower()
    if wanted != "auto":
        return wanted
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(settings: Mapping[str, Any], device: str) -> str:
    """``settings["dtype"]`` when set, else float16 on cuda and mps, float32 on the CPU."""
    wanted = str(settings.get("dtype") or "auto").strip().lower()
    if wanted == "auto":
        return "float16" if device.split(":")[0] in ("cuda", "mps") else "float32"
    if wanted not in DTYPES:
        raise ProviderError(
            f"diffusers setting dtype={wanted!r} is not one of auto, float16, bfloat16, float32."
        )
    return DTYPES[wanted]


def check_device(device: str) -> None:
    """Raise ProviderError, saying what to set instead, when ``device`` cannot be used here."""
    import torch

    kind = device.split(":")[0]
    if kind == "cuda" and not torch.cuda.is_available():
        raise ProviderError(
            f"device {device!r} is not available here (torch {torch.__version__} sees no CUDA GPU);"
            " set the diffusers setting device to 'cpu' or 'auto'."
        )
    if kind == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ProviderError(f"device {device!r} is not available here; set the diffusers setting device to 'cpu' or 'auto'.")
    try:
        torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise ProviderError(f"device {device!r} is not a torch device ({exc}); use 'cuda', 'cuda:1', 'mps' or 'cpu'.") from exc
