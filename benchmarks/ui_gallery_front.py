"""The Gallery panel's front end in headless Chromium: live new products, and the grid view.

    python benchmarks/ui_gallery_front.py [--live 300] [--repeats 3] [--no-grid]

The Gallery panel alone (``studio_app(studio, entry="gallery")``, what ``imagen-nb serve`` runs)
is served in this process over a fresh home and opened at 1400×900. Measured with the page's own
clock (a PerformanceObserver for main-thread long tasks > 50 ms, requestAnimationFrame gaps):

* live: an order of N products (``instant:swatch``, 512×512, so each has a 256-px WEBP
  thumbnail) is placed from Python while the panel shows the newest products at the top; the
  panel prepends them as they come. From placing to the count chip reading the new total: long
  tasks (count, total, worst) and frame gaps (median, 95th percentile, worst).
* grid view (issue 13), skipped with ``--no-grid`` (a panel without one): the 54-card deck set
  (``order_set("card_deck", "instant:swatch")``, 512×720) and a 1,000-product order
  (``a [red,green,blue,gold] kite`` × seeds 1..250). From the click on "grid view" in a product's
  details to (a) every cell of the grid in the DOM and (b) every cell inside the window showing
  its decoded thumbnail; then the same for "Swap" (the deck is first set to suit × value). A
  grid draws its first 240 cells (whole rows) and more rows as its end scrolls near: (a) counts
  those for the 1,000-product order.
  Long tasks in those windows are counted too.

Run it against another checkout with ``PYTHONPATH=<checkout>`` from outside any checkout.
Targets (issue 13): the grid view's first view ≤ 1 s from opening.
"""

from __future__ import annotations

import argparse

from panel_front import PROBE, TAKE, VIEWPORT, bench_panel, frame_stats, stats_row

# The panel's elements wherever they are (Panel puts a component in a shadow root).
DEEP = """() => {
  window.__deep = (root, sel) => {
    const hit = root.querySelector(sel);
    if (hit) return hit;
    for (const el of root.querySelectorAll("*")) if (el.shadowRoot) { const h = window.__deep(el.shadowRoot, sel); if (h) return h; }
    return null;
  };
}"""

# Click a button of the panel found by its text, then wait for the grid view: every cell in
# the DOM (`cells`), and every cell inside the window with its thumbnail decoded (`visible`).
GRID = """([text, cells, axis]) => new Promise((resolve) => {
  const panel = window.__deep(document, ".inb-gallery");
  const button = [...panel.querySelectorAll("button")].find((b) => b.textContent.trim() === text);
  const view0 = panel.querySelector(".inb-gallery-compare");
  const x0 = view0 ? view0.dataset.x : null;
  const t0 = performance.now();
  button.click();
  let all = null;
  const tick = () => {
    const now = performance.now();
    if (now - t0 > 60000) { resolve({ all: all === null ? NaN : all, visible: NaN, shown: 0, t0, t1: now }); return; }
    const view = panel.querySelector(".inb-gallery-compare");
    const table = view && panel.querySelector(".inb-gallery-gtable");
    const ready = table && !view.classList.contains("inb-gallery-relaying") && (axis === null || view.dataset.x === axis)
      && (x0 === null || view.dataset.x !== x0 || axis === x0);
    if (ready) {
      const n = table.querySelectorAll("td").length;
      if (all === null && n >= cells) all = now - t0;
      if (all !== null) {
        let pending = 0, shown = 0;
        // inside the window and the scroll boxes (a cell clipped by one is not on screen)
        const box = panel.querySelector(".inb-gallery-body").getBoundingClientRect();
        const wrap = panel.querySelector(".inb-gallery-gwrap").getBoundingClientRect();
        const top = Math.max(box.top, wrap.top, 0), bottom = Math.min(box.bottom, wrap.bottom, innerHeight);
        const left = Math.max(box.left, wrap.left, 0), right = Math.min(box.right, wrap.right, innerWidth);
        for (const b of table.querySelectorAll(".inb-gallery-gbtn")) {
          const r = b.getBoundingClientRect();
          if (r.bottom <= top || r.top >= bottom || r.right <= left || r.left >= right) continue;
          const img = b.querySelector("img");
          if (!img || !img.complete || img.naturalWidth === 0) pending++; else shown++;
        }
        if (!pending && shown) { resolve({ all, visible: now - t0, shown, t0, t1: now }); return; }
      }
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})"""


def _long_between(data, t0: float, t1: float) -> tuple[int, float]:
    hits = [d for s, d in data["long"] if s + d >= t0 and s <= t1]
    return len(hits), sum(hits)


def live_once(browser, url: str, studio, n: int) -> dict:
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(url)
    page.locator(".inb-gallery-tile").first.wait_for(timeout=60_000)
    page.wait_for_timeout(500)
    page.evaluate(PROBE)
    before = studio.gallery_count()
    t0 = page.evaluate("() => performance.now()")
    order = studio.order("instant:swatch", prompt=f"live [1..{n}]", width=512, height=512)
    order.wait(600)
    page.locator(".inb-gallery-count", has_text=f"{before + n:,} products").wait_for(timeout=120_000)
    t1 = page.evaluate("() => performance.now()")
    data = page.evaluate(TAKE)
    page.close()
    stats = frame_stats(data, (t1 - t0) / 1000)
    stats["long_n"], stats["long_total"] = _long_between(data, t0, t1)
    return stats


def grid_once(browser, url: str, prompt_text: str, cells: int, swap_to: str | None, swap_y: str | None = None) -> dict:
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(url)
    page.locator(".inb-gallery-search").fill(prompt_text)
    tile = page.locator(".inb-gallery-tile", has_text=prompt_text).first
    tile.wait_for(timeout=60_000)
    page.wait_for_timeout(600)
    page.evaluate(PROBE)
    page.evaluate(DEEP)
    tile.click()
    page.locator('[aria-label="Product details"]').get_by_role("button", name="grid view").wait_for(timeout=30_000)
    first = page.evaluate(GRID, ["grid view", cells, None])
    out = {"open_all": first["all"], "open_visible": first["visible"], "shown": first["shown"]}
    data = page.evaluate("() => window.__inb")
    out["open_long"] = _long_between(data, first["t0"], first["t1"])
    if swap_to:
        page.locator(".inb-gallery-compare").get_by_label("X axis").select_option(swap_to)
        page.locator(f'.inb-gallery-compare[data-x="{swap_to}"]').wait_for(timeout=30_000)
        page.locator(".inb-gallery-compare").get_by_label("Y axis").select_option(swap_y)
        page.locator(f'.inb-gallery-compare[data-y="{swap_y}"]').wait_for(timeout=30_000)
        page.wait_for_timeout(800)
        target = swap_y
        swap = page.evaluate(GRID, ["⇄ Swap", cells, target])
        out["swap_visible"] = swap["visible"]
        data = page.evaluate("() => window.__inb")
        out["swap_long"] = _long_between(data, swap["t0"], swap["t1"])
    page.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--live", type=int, default=300, help="products of the live order")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-grid", action="store_true", help="skip the grid view (a panel without one)")
    args = parser.parse_args()

    def setup(studio):
        studio.order("instant:swatch", prompt="warm-up [1..30]", width=512, height=512).wait(120)
        if not args.no_grid:
            studio.order_set("card_deck", "instant:swatch").wait(300)
            studio.order("instant:swatch", prompt="a [red,green,blue,gold] kite", seed="[1..250]",
                         width=64, height=64).wait(600)

    live, deck, big = [], [], []
    with bench_panel("gallery", setup) as (studio, url, browser):
        for _ in range(args.repeats):
            if not args.no_grid:
                deck.append(grid_once(browser, url, "Ace of Spades", 54, "suit", "value"))
                big.append(grid_once(browser, url, "a gold kite", cells=240, swap_to=None))
            live.append(live_once(browser, url, studio, args.live))
    print(f"live: {args.live} new products while the Gallery shows the newest; {args.repeats} runs")
    print("| run | long tasks | long-task ms total / worst | frame gap ms median / p95 / worst | order placed → count shown s |")
    print("|---|---:|---:|---:|---:|")
    for i, r in enumerate(live, 1):
        print(f"| {i} | {stats_row(r)} | {r['wall'] / 1000:.1f} |")
    for label, rows in (("54-card deck (card_deck set)", deck), ("1,000-product order (4 × 250)", big)):
        if not rows:
            continue
        print(f"\ngrid view of the {label}")
        print("| run | click → all cells in the DOM ms | click → visible thumbnails decoded ms | cells in view | "
              "long tasks (n, ms) | swap → visible decoded ms | swap long tasks (n, ms) |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for i, r in enumerate(rows, 1):
            swap = f"{r['swap_visible']:.0f}" if "swap_visible" in r else "—"
            swap_long = f"{r['swap_long'][0]}, {r['swap_long'][1]:.0f}" if "swap_long" in r else "—"
            print(f"| {i} | {r['open_all']:.0f} | {r['open_visible']:.0f} | {r['shown']} | "
                  f"{r['open_long'][0]}, {r['open_long'][1]:.0f} | {swap} | {swap_long} |")


if __name__ == "__main__":
    main()
