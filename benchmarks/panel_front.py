"""The harness the panels' front-end benchmarks share (``ui_*_front.py``): one panel served in this
process, headless Chromium, and the page's own clock for main-thread long tasks and frame gaps.

    with bench_panel("order") as (studio, url, browser):
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(url)
        page.evaluate(PROBE)                    # start counting
        ...                                     # the phase measured
        stats = frame_stats(page.evaluate(TAKE), seconds)   # and start again

Not a benchmark itself; the scripts import it from this folder (``python benchmarks/<script>.py``).
"""

from __future__ import annotations

import socket
import statistics
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

#: the page size every front-end benchmark opens its panel at
VIEWPORT = {"width": 1400, "height": 900}
#: Debian's Chromium, never a downloaded one
CHROMIUM = "/usr/bin/chromium"

#: Start counting: main-thread long tasks (> 50 ms, as [start, duration] on the page's clock) and
#: the gaps between animation frames, in ``window.__inb``.
PROBE = """() => {
  window.__inb = { long: [], gaps: [], last: performance.now() };
  new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__inb.long.push([e.startTime, e.duration]); })
    .observe({ entryTypes: ["longtask"] });
  const tick = (t) => { window.__inb.gaps.push(t - window.__inb.last); window.__inb.last = t; requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
}"""
#: What PROBE counted so far; counting starts again from now.
TAKE = "() => { const d = window.__inb; window.__inb = { long: [], gaps: [], last: performance.now() }; return d; }"


def frame_stats(data: dict, seconds: float) -> dict:
    """Long tasks (count, total ms, worst ms), frame gaps (median, 95th percentile, worst, ms) of
    what PROBE counted (``data``), and the phase's wall time ``seconds`` as ms."""
    gaps = sorted(data["gaps"][1:]) or [0.0]
    long = [d for _, d in data["long"]]
    return {"long_n": len(long), "long_total": sum(long), "long_max": max(long, default=0.0),
            "gap_median": statistics.median(gaps), "gap_p95": gaps[int(0.95 * (len(gaps) - 1))],
            "gap_max": gaps[-1], "wall": seconds * 1000}


def stats_row(s: dict) -> str:
    """The columns "long tasks | long-task ms total / worst | frame gap ms median / p95 / worst" of a table row."""
    return (f"{s['long_n']} | {s['long_total']:.0f} / {s['long_max']:.0f} | "
            f"{s['gap_median']:.1f} / {s['gap_p95']:.1f} / {s['gap_max']:.0f}")


@contextmanager
def served_panel(studio, entry: str):
    """Serve ``studio_app(studio, entry)`` (what ``imagen-nb serve`` runs) on a free loopback port
    in this process; yields its URL."""
    import panel as pn

    from imagen_nb.app import studio_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = pn.serve({"/": lambda: studio_app(studio, entry=entry)}, address="127.0.0.1", port=port,
                      show=False, threaded=True, title="bench")
    time.sleep(2)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.stop()


@contextmanager
def bench_panel(entry: str, setup=None):
    """A Studio over a fresh home (``setup(studio)`` runs first, when given), its ``entry`` panel
    served, headless Chromium: yields (studio, url, browser); says which imagen_nb it measured."""
    import imagen_nb as inb

    home = Path(tempfile.mkdtemp(prefix=f"inb-{entry}-front-"))
    with inb.Studio(home) as studio:
        if setup:
            setup(studio)
        with served_panel(studio, entry) as url, chromium() as browser:
            yield studio, url, browser
    print(f"imagen_nb from {Path(inb.__file__).parent}")


@contextmanager
def chromium():
    """Headless Chromium driven by playwright; yields the browser."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            yield browser
        finally:
            browser.close()
