"""Scaling of the Dask backend without GPUs: 400 generations of a simulated 0.2 s model.

``instant:swatch`` with ``step_seconds=0.2`` and one step stands for a GPU image: the worker
sleeps 0.2 s (no CPU), so N workers should finish N× faster even on a machine with few cores.
Each worker count runs on a fresh ``Studio(executor="dask", workers=N)``; the thread backend runs
the same order with ``concurrency=N`` threads in the studio process, for the overhead per
generation of each backend against the ideal (``generations × 0.2 s / N``).

    PYTHONPATH=. .venv/bin/python benchmarks/dask_scaling.py [GENERATIONS] [WORKERS...]

Defaults: 400 generations on 1, 2 and 4 workers. Cluster start-up is timed apart (it is paid
once per studio), and the order is timed from ``studio.order`` to ``order.wait``.
"""

from __future__ import annotations

import platform
import sys
import tempfile
import time
from pathlib import Path

import imagen_nb as inb

LATENCY = 0.2


def run(n: int, workers: int, backend: str) -> dict:
    home = Path(tempfile.mkdtemp(prefix=f"imagen-nb-bench-{backend}-{workers}-"))
    t0 = time.perf_counter()
    if backend == "dask":
        studio = inb.Studio(home, limit=n, executor="dask", workers=workers)
    else:
        studio = inb.Studio(home, limit=n, providers={"instant": {"concurrency": workers}})
    startup = time.perf_counter() - t0
    with studio:
        if backend == "dask":  # one warm-up generation per worker: imports and the provider
            studio.order("instant:swatch", prompt=f"warm [1..{workers}]").wait(600)
        t0 = time.perf_counter()
        order = studio.order("instant:swatch", prompt="bench", seed=f"[1..{n}]", step_seconds=LATENCY)
        order.wait(3600)
        seconds = time.perf_counter() - t0
        assert order.status == "fulfilled", order
        used = studio.sql("select count(distinct return_params->>'worker') as n from generations "
                          "where order_id = ?", [order.id]).n[0] if backend == "dask" else None
    ideal = n * LATENCY / workers
    return {"backend": backend, "workers": workers, "startup": startup, "seconds": seconds,
            "ideal": ideal, "speedup_vs_ideal": ideal / seconds,
            "overhead_ms": (seconds - ideal) / n * workers * 1000, "workers_used": used}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    counts = [int(a) for a in sys.argv[2:]] or [1, 2, 4]
    print(f"# {n} generations of {LATENCY} s; {platform.node()}, {platform.processor() or platform.machine()}")
    print("backend  workers  startup_s  order_s  ideal_s  ideal/actual  overhead_ms/gen/worker  workers_used")
    for workers in counts:
        for backend in ("threads", "dask"):
            r = run(n, workers, backend)
            print(f"{r['backend']:8} {r['workers']:7} {r['startup']:10.1f} {r['seconds']:8.2f} {r['ideal']:8.1f} "
                  f"{r['speedup_vs_ideal']:12.3f} {r['overhead_ms']:23.1f}  {r['workers_used']}", flush=True)


if __name__ == "__main__":
    main()
