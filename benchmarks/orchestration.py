"""Orchestration overhead: a 10,000-generation order on the instant provider vs a plain loop.

The order goes through everything a real one does (expansion, validation, catalog rows,
background worker, PNG metadata, thumbnails, batched status writes, events); the plain loop
makes the same swatches and writes the same PNG files, nothing else.

    .venv/bin/python benchmarks/orchestration.py [N]
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
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        plain = plain_loop(n, Path(tmp) / "plain")
        queued, total = studio_order(n, Path(tmp) / "home")
    print(f"| generations | plain loop s | order() returns s | order to last product s | gen/s | ratio |")
    print(f"|---:|---:|---:|---:|---:|---:|")
    print(f"| {n:,} | {plain:.2f} | {queued:.2f} | {total:.2f} | {n / total:,.0f} | {total / plain:.2f}× |")


if __name__ == "__main__":
    main()
