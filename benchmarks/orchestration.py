"""Orchestration overhead: a 10,000-generation order on the instant provider vs a plain loop.

The order goes through everything a real one does (expansion, validation, catalog rows,
background worker, PNG metadata, thumbnails, batched status writes, events); the plain loop
makes the same swatches and writes the same PNG files, nothing else.

    .venv/bin/python benchmarks/orchestration.py [N] [REPEATS] [DIR]

DIR (default: the system temp folder) holds both sides' files; /dev/shm takes the disk out
of the comparison and leaves the CPU cost of the orchestration.

Both sides are disk-bound on small files, and a shared VM's disk is noisy: the two run
alternately REPEATS times (default 3) and the medians are compared.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import imagen_nb as inb
from imagen_nb.providers.instant import swatch_png


def plain_loop(n: int, folder: Path) -> float:
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for i in range(n):
        data = swatch_png(f"bench {i // 100}", i % 100, 64, 64)
        (folder / f"{i}.png").write_bytes(data)
    return time.perf_counter() - t0


def studio_order(n: int, home: Path) -> tuple[float, float]:
    side = int(n ** 0.5)
    assert side * side == n, "N must be a square"
    with inb.Studio(home, limit=n) as studio:
        t0 = time.perf_counter()
        order = studio.order("instant:swatch", prompt=f"bench [0..{side - 1}]", seed=f"[0..{side - 1}]")
        queued = time.perf_counter() - t0
        order.wait()
        total = time.perf_counter() - t0
        assert order.status == "fulfilled", order
        assert studio.sql("select count(*) as n from products").n[0] == n
    return queued, total


def main() -> None:
    from statistics import median

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    folder = sys.argv[3] if len(sys.argv) > 3 else None
    plains, queues, totals = [], [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            plains.append(plain_loop(n, Path(tmp) / "plain"))
            queued, total = studio_order(n, Path(tmp) / "home")
            queues.append(queued)
            totals.append(total)
    plain, queued, total = median(plains), median(queues), median(totals)
    runs = ", ".join(f"{p:.2f}/{t:.2f}" for p, t in zip(plains, totals))
    print("| generations | plain loop s | order() returns s | order to last product s | gen/s | ratio | runs plain/order s |")
    print("|---:|---:|---:|---:|---:|---:|---|")
    print(f"| {n:,} | {plain:.2f} | {queued:.2f} | {total:.2f} | {n / total:,.0f} | {total / plain:.2f}× | {runs} |")


if __name__ == "__main__":
    main()
