"""Scheduler names a user picks (A1111's sampler names) and the diffusers classes behind them.

The table is plain data so that specs can list the names without importing diffusers.
"""

from __future__ import annotations

from typing import Any, Mapping

#: name → (diffusers scheduler class, config overrides applied with ``from_config``).
SCHEDULERS: dict[str, tuple[str, dict[str, Any]]] = {
    "DPM++ 2M": (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": False},
    ),
    "DPM++ 2M Karras": (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": True},
    ),
    "Euler": ("EulerDiscreteScheduler", {}),
    "Euler a": ("EulerAncestralDiscreteScheduler", {}),
    "DDIM": ("DDIMScheduler", {}),
    "UniPC": ("UniPCMultistepScheduler", {}),
    # For LCM-distilled models and LCM LoRAs (4–8 steps, guidance ≈ 1–2).
    "LCM": ("LCMScheduler", {}),
}

DEFAULT_SCHEDULER = "DPM++ 2M"


def make_scheduler(name: str, base_config: Mapping[str, Any]):
    """A new scheduler ``name`` configured from a model's own scheduler config (betas, offsets…)."""
    import diffusers

    class_name, overrides = SCHEDULERS[name]
    cls = getattr(diffusers, class_name)
    return cls.from_config(dict(base_config), **overrides)
