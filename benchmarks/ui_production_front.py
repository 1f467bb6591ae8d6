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
import statistics
import tempfile
import time
from pathlib import Path

PROBE = """() => {
  window.__inb = { long: [], gaps: [], last: performance.now() };
  new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__inb.long.push(e.duration); })
    .observe({ entryTypes: ["longtask"] });
  const tick = (t) => { window.__inb.gaps.push(t - window.__inb.last); window.__inb.last = t; requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
}"""


def run_once(browser, url: str, studio, n: int) -> dict:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
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
    lag = time.monotonic() - finished
    data = page.evaluate("() => window.__inb")
    page.close()
    gaps = sorted(data["gaps"][1:]) or [0.0]
    return {"long_n": len(data["long"]), "long_total": sum(data["long"]), "long_max": max(data["long"], default=0.0),
            "gap_median": statistics.median(gaps), "gap_p95": gaps[int(0.95 * (len(gaps) - 1))],
            "gap_max": gaps[-1], "lag": lag * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generations", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import panel as pn
    from playwright.sync_api import sync_playwright

    import imagen_nb as inb
    from imagen_nb.app import studio_app

    home = Path(tempfile.mkdtemp(prefix="inb-prod-front-"))
    with inb.Studio(home) as studio:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = pn.serve({"/": lambda: studio_app(studio, entry="production")}, address="127.0.0.1", port=port,
                          show=False, threaded=True, title="bench")
        time.sleep(2)
        url = f"http://127.0.0.1:{port}/"
        rows = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                        args=["--headless", "--no-sandbox", "--disable-gpu"])
            for _ in range(args.repeats):
                rows.append(run_once(browser, url, studio, args.generations))
            browser.close()
        server.stop()
    print(f"imagen_nb from {Path(inb.__file__).parent}")
    print(f"{args.generations} generations × 4 steps, Production panel expanded on the order; {args.repeats} runs")
    print("| run | long tasks | long-task ms total / worst | frame gap ms median / p95 / worst | finish → row fulfilled ms |")
    print("|---|---:|---:|---:|---:|")
    for i, r in enumerate(rows, 1):
        print(f"| {i} | {r['long_n']} | {r['long_total']:.0f} / {r['long_max']:.0f} | "
              f"{r['gap_median']:.1f} / {r['gap_p95']:.1f} / {r['gap_max']:.0f} | {r['lag']:.0f} |")


if __name__ == "__main__":
    main()
