"""The Gallery controller's pages sorted and filtered by a score, over a catalog of N products.

Builds (or reuses, with ``--home``) the home of ``benchmarks/ui_gallery.py`` (N products on
``instant:swatch``), gives half of them a CLIP score (random values written with the catalog's
``put_scores``, as ``studio.score`` writes them), and times ``page`` requests handled by a
``GalleryController`` in Python (no browser): newest first (the baseline), sorted by
``clip_score``, filtered by ``min_clip_score``, and ``details`` (which now also asks for the
product's lineage). Median and max of ``--runs`` requests after two warm-ups.

    .venv/bin/python benchmarks/ui_gallery_scores.py [--home DIR] [--products N] [--runs R]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import imagen_nb as inb
from imagen_nb.catalog.scores import put_scores

sys.path.insert(0, str(Path(__file__).parent))
from ui_gallery import build_home  # noqa: E402  (the same home as the Gallery benchmark)


def score_half(studio, seed: int = 1) -> int:
    """A CLIP score on every second product (skipped when scores are there already)."""
    scored = studio.gallery_count(scored=True)
    if scored:
        return scored
    rng = random.Random(seed)
    ids = list(studio.sql("select product_id from gallery order by product_id").product_id)[::2]
    put_scores(studio.catalog.cursor(), [{"product_id": i, "scorer": "clip:bench", "value": rng.uniform(0, 40),
                                          "details": None} for i in ids])
    return len(ids)


def timings(studio, runs: int) -> list[tuple[str, list[float], int, int]]:
    from imagen_nb.ui.gallery import GalleryController

    class Transport:
        last = None

        def send(self, content, buffers=()):
            Transport.last = content

        def schedule(self, fn):
            fn()

    controller = GalleryController(studio)
    controller.attach(Transport())
    one = str(studio.gallery(limit=1).product_id.iloc[0])
    cases = [
        ("page 0 + total, newest first (baseline)", "page", {}),
        ("page 0 + total, sort = clip_score", "page", {"sort": "clip_score"}),
        ("page at offset 4,000, sort = clip_score, no total", "page", {"sort": "clip_score", "offset": 4000,
                                                                       "total": False}),
        ("page 0 + total, min_clip_score = 30", "page", {"filters": {"min_clip_score": 30}}),
        ("page 0 + total, min_clip_score = 30, sort = clip_score", "page",
         {"filters": {"min_clip_score": 30}, "sort": "clip_score"}),
        ("details (with the lineage read)", "details", {"product_id": one}),
    ]
    out, rid = [], 0
    try:
        for label, method, args in cases:
            times = []
            for i in range(runs + 2):
                rid += 1
                t0 = time.perf_counter()
                controller.handle({"panel": "gallery", "rid": rid, "method": method, "args": args}, [])
                if i >= 2:
                    times.append(time.perf_counter() - t0)
                assert Transport.last["ok"], Transport.last
            result = Transport.last["result"]
            items = result.get("items", [])
            out.append((label, times, len(items), result.get("total") or 0))
        times = []
        for i in range(runs + 2):
            t0 = time.perf_counter()
            studio.lineage(one)
            if i >= 2:
                times.append(time.perf_counter() - t0)
        out.append(("studio.lineage(product) alone (its share of details)", times, 0, 0))
    finally:
        controller.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path)
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="inb-bench-scores-"))
    try:
        build_home(home, args.products, 512)
        with inb.Studio(home) as studio:
            n = studio.gallery_count()
            scored = score_half(studio)
            print(f"{n:,} products, {scored:,} with a CLIP score; load average {os.getloadavg()[0]:.2f}\n")
            print("| request | median / max ms | items | total |\n|---|---|---|---|")
            for label, times, items, total in timings(studio, args.runs):
                print(f"| {label} | {statistics.median(times) * 1000:.0f} / {max(times) * 1000:.0f} | {items} | {total:,} |")
            print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    finally:
        if not args.home:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
