"""LoRA costs on ``diffusers:tiny``: the first load of a file, switching sets, and the unfused forward.

Made here, in a temporary home: the tiny model and 10 rank-4 LoRAs of its UNet attention
(peft, ``init_lora_weights=False``, saved with ``save_lora_weights`` as trained LoRAs are). Measured
through :class:`imagen_nb.providers.diffusers.loras.LoraSet.apply`, the call the factory makes under
the pipeline's lock, so the figures include the header check, ``load_lora_weights``,
``enable_lora`` and ``set_adapters``:

- first load: a set of one LoRA the pipeline has not seen (10 files, median and max);
- switch: from ``[A 0.6, B 0.4]`` to ``[A 1.0]`` and back, both loaded (median of 20 switches;
  one ``set_adapters``, while the set already in place costs nothing);
- switch to none: ``[A, B]`` → no LoRA (``disable_lora``; median of 20);
- generation: one 64×64, 4-step image without LoRAs and with ``[A 0.6, B 0.4]`` active (median of 10,
  alternating, switch included);
  LoRAs are never fused, so their matmuls run in every step.

    .venv/bin/python benchmarks/lora_switch.py
"""

from __future__ import annotations

import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

FILES = 10
SWITCHES = 20
GENERATIONS = 10


def make_lora(unet_config: dict, folder: Path, name: str, seed: int) -> Path:
    """A random rank-4 LoRA of the tiny UNet's attention, saved with its adapter metadata."""
    import torch
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = UNet2DConditionModel.from_config(unet_config)
        unet.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"],
                                    init_lora_weights=False))
    StableDiffusionPipeline.save_lora_weights(
        folder, unet_lora_layers=convert_state_dict_to_diffusers(get_peft_model_state_dict(unet)),
        weight_name=f"{name}.safetensors", unet_lora_adapter_metadata=unet.peft_config["default"].to_dict())
    return folder / f"{name}.safetensors"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def main() -> int:
    import torch
    from diffusers import UNet2DConditionModel

    from imagen_nb.providers.base import ProviderContext
    from imagen_nb.providers.diffusers import DiffusersProvider
    from imagen_nb.providers.diffusers.loras import LoraSet

    with tempfile.TemporaryDirectory(prefix="imagen-nb-lora-bench-") as tmp:
        home, loras = Path(tmp) / "home", Path(tmp) / "loras"
        loras.mkdir()
        context = ProviderContext(home=home, settings={"device": "cpu", "lora_dir": str(loras), "max_loras": 100})
        provider = DiffusersProvider(context)
        model = provider.model("tiny")
        config = dict(UNet2DConditionModel.load_config(provider.tiny_path() / "unet"))
        names = [make_lora(config, loras, f"lora-{i}", seed=i).stem for i in range(FILES)]
        pipe = provider.pipeline(model).pipe

        def lora_set(*pairs) -> LoraSet:
            return LoraSet.of({"loras": [{"name": n, "weight": w} for n, w in pairs]}, context)

        def timed(s: LoraSet) -> float:
            started = time.perf_counter()
            s.apply(pipe, model)
            return time.perf_counter() - started

        first = [timed(lora_set((n, 1.0))) for n in names]
        both, one, none = lora_set((names[0], 0.6), (names[1], 0.4)), lora_set((names[0], 1.0)), lora_set()
        switches, offs = [], []
        for _ in range(SWITCHES):
            switches.append(timed(both) if len(switches) % 2 else timed(one))
        for _ in range(SWITCHES):
            timed(both)
            offs.append(timed(none))

        def generation(s: LoraSet) -> float:
            s.apply(pipe, model)
            generator = torch.Generator("cpu").manual_seed(1)
            started = time.perf_counter()
            pipe("bench", width=64, height=64, num_inference_steps=4, generator=generator, output_type="pil")
            return time.perf_counter() - started

        generation(none), generation(both)  # warm-up at this shape
        base, with_loras = [], []
        for _ in range(GENERATIONS):  # alternating, so a busy machine slows both alike
            base.append(generation(none))
            with_loras.append(generation(both))
        provider.close()

    import diffusers
    import peft

    print(f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__},"
          f" diffusers {diffusers.__version__}, peft {peft.__version__}", file=sys.stderr)
    print("| model | first load ms (median / max of 10) | switch [A,B]↔[A] ms (median of 20) |"
          " switch to none ms (median of 20) | image ms, no LoRA | image ms, 2 LoRAs |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| diffusers:tiny, rank-4 LoRAs of 32 attention layers | {ms(statistics.median(first))} / {ms(max(first))}"
          f" | {ms(statistics.median(switches))} | {ms(statistics.median(offs))}"
          f" | {ms(statistics.median(base))} | {ms(statistics.median(with_loras))} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
