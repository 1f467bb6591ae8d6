"""The Order panel's front end in headless Chromium: typing a SmartParameter prompt (a preview
after each pause) and a live order placed from the panel filling the session strip.

    python benchmarks/ui_order_front.py [--generations 200] [--repeats 3]

The Order panel alone (``studio_app(studio, entry="order")``) is served in this process on
``instant:swatch``. Each run, measured with the page's own clock:

1. *typing*: the prompt ``a [red,green,blue,…] kite at [dawn,noon,dusk] #i`` is typed key by key
   (20 ms apart) into the form and the preview settles on its count;
2. *ordering*: Ctrl+Enter orders ``[1..N]`` generations (4 steps of 5 ms each); the run ends when
   the order bar says "fulfilled" (every product's thumbnail pushed to the strip meanwhile);
3. *set* (issue 13): the 54-card example set ``card_deck`` is picked in the Rows card; the phase
   ends when the preview shows "54 generations" and its table of filled prompts (a checkout
   without the Rows card stops after phase 2).

Reported per phase: main-thread long tasks (PerformanceObserver ``longtask``, > 50 ms): count,
total and worst; frame gaps (requestAnimationFrame deltas): median, 95th percentile, worst; and
the phase's wall time (typing: last key → preview count shown; ordering: Ctrl+Enter → "fulfilled";
set: choosing the set → its preview shown).

Run it against another checkout with ``PYTHONPATH=<checkout>`` from outside any checkout.
"""

from __future__ import annotations

import argparse
import time

from panel_front import PROBE, TAKE, VIEWPORT, bench_panel, frame_stats, stats_row

COLOURS = ["red", "green", "blue", "gold", "teal", "plum", "grey", "pink"]


def run_once(browser, url: str, n: int, i: int) -> dict:
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(url)
    prompt = page.locator(".inb-order [data-field=prompt] textarea")
    prompt.wait_for(timeout=60_000)
    page.locator(".inb-order-count").wait_for(timeout=60_000)
    page.wait_for_timeout(500)
    page.evaluate(PROBE)
    text = f"a [{','.join(COLOURS)}] kite at [dawn,noon,dusk] #{i}"
    prompt.click()
    prompt.press_sequentially(text, delay=20)
    typed = time.monotonic()
    page.locator(".inb-order-count", has_text=f"{len(COLOURS) * 3} generations").wait_for(timeout=30_000)
    typing = frame_stats(page.evaluate(TAKE), time.monotonic() - typed)
    prompt.fill(f"bench [1..{n}] #{i}")
    advanced = page.locator(".inb-order .inb-order-advanced")
    if not advanced.evaluate("(d) => d.open"):
        advanced.locator("summary").click()
    page.locator(".inb-order [data-field=num_inference_steps] input").fill("4")
    page.locator(".inb-order [data-field=step_seconds] input, .inb-order [data-field=step_seconds] textarea").first.fill(
        "0.005")
    page.locator(".inb-order-count", has_text=f"{n} generations").wait_for(timeout=30_000)
    page.evaluate(TAKE)
    start = time.monotonic()
    prompt.press("Control+Enter")
    page.locator(".inb-order-note", has_text="fulfilled").wait_for(timeout=600_000)
    ordering = frame_stats(page.evaluate(TAKE), time.monotonic() - start)
    if not page.locator(".inb-order [data-field=rows]").count():
        page.close()
        return {"typing": typing, "ordering": ordering}
    # Rows: pick the 54-card example set; the preview of its 54 filled prompts is the end.
    rows = page.locator(".inb-order [data-field=rows]")
    page.evaluate(TAKE)
    start = time.monotonic()
    rows.get_by_label("Card set").select_option("card_deck")
    page.locator(".inb-order-count", has_text="54 generations").wait_for(timeout=60_000)
    page.locator(".inb-order-preview:not(.inb-order-stale) .inb-order-table").wait_for(timeout=60_000)
    attach = frame_stats(page.evaluate(TAKE), time.monotonic() - start)
    page.close()
    return {"typing": typing, "ordering": ordering, "set": attach}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generations", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    with bench_panel("order") as (_studio, url, browser):
        rows = [run_once(browser, url, args.generations, i) for i in range(args.repeats)]
    print(f"Order panel: typing a {len(COLOURS) * 3}-generation prompt; ordering {args.generations} generations × 4 "
          f"steps from the panel; {args.repeats} runs")
    print("| run | phase | long tasks | long-task ms total / worst | frame gap ms median / p95 / worst | wall ms |")
    print("|---|---|---:|---:|---:|---:|")
    for i, r in enumerate(rows, 1):
        for phase in [p for p in ("typing", "ordering", "set") if p in r]:
            print(f"| {i} | {phase} | {stats_row(r[phase])} | {r[phase]['wall']:.0f} |")


if __name__ == "__main__":
    main()
