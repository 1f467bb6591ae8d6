"""The Production panel's front end under a live 1,000-generation order, in headless Chromium.

    python benchmarks/ui_production_front.py [--generations 1000] [--repeats 3]

The Production panel alone (``studio_app(studio, entry="production")``) is served in this
process; the page opens it, an order of N generations on ``instant:swatch`` (4 steps of 5 ms,
so every generation reports progress) is placed from Python, and the page expands the order
the moment its row shows, so the live window of 100 generation rows is updated too. Measured
with the page's own clock, from the order's placing to its row reading "fulfilled":

- main-thread long tasks (PerformanceObserver ``longtask``, > 50 ms): count, total and worst;
- frame gaps (requestAnimationFrame deltas): median, 95th percentile, worst;
- the lag between the order finishing in Python and the row saying so.

Run it against another checkout with ``PYTHONPATH=<checkout>`` from outside any checkout.
"""

from __future__ import annotations

import argparse
import time

from panel_front import PROBE, TAKE, VIEWPORT, bench_panel, frame_stats, stats_row


def run_once(browser, url: str, studio, n: int) -> dict:
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(url)
    page.locator(".inb-production").wait_for(timeout=60_000)
    page.wait_for_timeout(500)
    page.evaluate(PROBE)
    order = studio.order("instant:swatch", prompt=f"bench [1..{n}]", num_inference_steps=4, step_seconds=0.005)
    row = page.locator(f'.inb-production-order[data-id="{order.id}"] .inb-production-orow')
    row.wait_for(timeout=60_000)
    row.click()
    order.wait(600)
    finished = time.monotonic()
    page.locator(f'.inb-production-order[data-id="{order.id}"] .inb-production-state', has_text="fulfilled").wait_for(
        timeout=120_000)
    stats = frame_stats(page.evaluate(TAKE), time.monotonic() - finished)   # wall: the lag
    page.close()
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generations", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    with bench_panel("production") as (studio, url, browser):
        rows = [run_once(browser, url, studio, args.generations) for _ in range(args.repeats)]
    print(f"{args.generations} generations × 4 steps, Production panel expanded on the order; {args.repeats} runs")
    print("| run | long tasks | long-task ms total / worst | frame gap ms median / p95 / worst | finish → row fulfilled ms |")
    print("|---|---:|---:|---:|---:|")
    for i, r in enumerate(rows, 1):
        print(f"| {i} | {stats_row(r)} | {r['wall']:.0f} |")


if __name__ == "__main__":
    main()
