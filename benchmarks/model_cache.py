"""Model cache under a memory budget: load, evict and reload times on the tiny model.

Three copies of ``diffusers:tiny`` in three folders (three distinct models) and a diffusers
provider on the CPU whose ``memory_budget`` holds two of them. Each round:

1. load A, load B (both fit);
2. load C: A, the least recently used, is evicted (references dropped, ``gc.collect()``) first;
3. ask for A again: it is reloaded from disk (B is evicted to make room).

Reported (medians over the rounds): the load time diffusers takes (``ModelLoaded.seconds``:
``from_pretrained`` and ``.to(device)``), the wall time of ``provider.pipeline()`` for a load
(that plus the size estimate read from the safetensors headers and the eviction), the time an
eviction takes to free (``ModelUnloaded.seconds``), the reload of an evicted model, and a cache
hit. The files are in the OS page cache after the warm-up, as they are for a model used earlier in
a session; ``import diffusers`` is paid before measuring.

    .venv/bin/python benchmarks/model_cache.py [ROUNDS]
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path


class Events:
    """A run context that keeps the events a provider publishes."""

    def __init__(self):
        self.events = []

    def progress(self, *args):
        pass

    def cancelled(self, generation_id):
        return False

    def publish(self, event):
        self.events.append(event)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    import diffusers  # noqa: F401  (paid once, outside the measurements)
    import torch

    from imagen_nb.core.records import ModelLoaded, ModelUnloaded
    from imagen_nb.providers.base import ProviderContext
    from imagen_nb.providers.diffusers import DiffusersProvider
    from imagen_nb.providers.diffusers.memory import format_bytes, pipeline_bytes
    from imagen_nb.providers.diffusers.tiny import ensure_tiny_model

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        tiny = ensure_tiny_model(ProviderContext(home).cache_dir("diffusers"))
        folders = []
        for name in ("a", "b", "c", "warm"):
            shutil.copytree(tiny, home / name)
            folders.append(str(home / name))

        probe = DiffusersProvider(ProviderContext(home, settings={"device": "cpu"}))
        size = pipeline_bytes([probe.pipeline(probe.model(folders[3])).pipe])  # also warms up torch and the files
        for folder in folders[:3]:
            probe.pipeline(probe.model(folder))  # page cache warm for every copy
        probe.close()

        budget = int(size * 2.5)
        load_s, load_wall, evict_s, reload_s, hit_s = [], [], [], [], []
        for _ in range(rounds):
            provider = DiffusersProvider(ProviderContext(home, settings={"device": "cpu", "memory_budget": budget}))
            ctx = Events()
            a, b, c = (provider.model(f) for f in folders[:3])
            for model in (a, b):
                started = time.perf_counter()
                provider.pipeline(model, ctx)
                load_wall.append(time.perf_counter() - started)
            provider.pipeline(c, ctx)  # evicts a
            started = time.perf_counter()
            provider.pipeline(a, ctx)  # reloads a, evicts b
            reload_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            for _ in range(1000):
                provider.pipeline(a, ctx)
            hit_s.append((time.perf_counter() - started) / 1000)
            loads = [e for e in ctx.events if isinstance(e, ModelLoaded)]
            evictions = [e for e in ctx.events if isinstance(e, ModelUnloaded)]
            assert [e.model_id for e in loads] == [a.id, b.id, c.id, a.id], loads
            assert [e.model_id for e in evictions] == [a.id, b.id], evictions
            load_s.extend(e.seconds for e in loads[:3])
            evict_s.extend(e.seconds for e in evictions)
            provider.close()

    def ms(values):
        return f"{statistics.median(values) * 1000:.1f}"

    print(f"tiny model {format_bytes(size)} loaded (float32), budget {format_bytes(budget)} (2.5 models), "
          f"{rounds} rounds, torch {torch.__version__}, {torch.get_num_threads()} threads", file=sys.stderr)
    print("| model | weights | budget | load ms (from_pretrained) | pipeline() load ms | evict ms "
          "| reload ms (evicted → loaded) | cache hit µs |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| tiny SD1, 3 folders, CPU | {format_bytes(size)} | {format_bytes(budget)} | {ms(load_s)} "
          f"| {ms(load_wall)} | {ms(evict_s)} | {ms(reload_s)} | {statistics.median(hit_s) * 1e6:.1f} |")


if __name__ == "__main__":
    main()
