"""The Gallery panel over a catalog of 10,000 products, in headless Chromium.

Builds (or reuses, with ``--home``) a studio home of N products on ``instant:swatch``: 10 orders
of N/10 (four colour words × N/40 seeds), one project each, 512×512 images, so every product
has a 256-px WEBP thumbnail as a real model's would. Serves the Gallery panel alone
(``studio_app(studio, entry="gallery")``, what ``imagen-nb serve`` runs, here in this process on
127.0.0.1) and opens it in Debian's headless Chromium through playwright. Measured:

* open: from navigation start to the panel's root element (``.inb-gallery``) in the DOM
  ("mount"), and from there to the first page's thumbnails visible: every tile inside the
  window and the grid's scroll box has its ``<img>`` complete with ``naturalWidth > 0``
  (checked on every animation frame by a script in the page); the moment the first tiles are
  in the DOM is noted too, to split the reply from the image decoding. Each repeat opens a new
  browser context (cold HTTP cache), then a second page in that context (warm cache).
* bytes per page: each reply of the controller as handed to Panel (the message's JSON plus its
  binary buffers, i.e. the thumbnails), counted by wrapping the transport's ``send``; and
  what the websocket brought in (playwright's ``framereceived``) from a filter change until
  the page was quiet again (0.6 s later: this includes the next page, which the grid fetches
  at once when its end is within 900 px of the bottom of the view).
* filter: from the change event until the grid shows the new first page (no tile of the old
  grid left, the visible thumbnails decoded): choosing a project (the headline), choosing the
  model (which matches all products: only one instant model exists), searching prompts by
  typing (the search box waits 250 ms after the last key) and by pressing Enter (no wait).
* the controller alone: ``init`` and ``page`` requests handled in Python (no browser).

Targets: first page visible ≤ 1 s after opening the panel; a filter applied ≤ 300 ms.

Instant swatches are smooth gradients whose 256-px WEBP thumbnails weigh ~0.5 KiB, far lighter
than a real image's; so each measurement runs twice: with those (``swatch``) and with thumbnails
of the same swatches with noise texture added (``textured``, ~14 KiB each, the same WEBP settings)
for realistic bytes and decode work. Both sets are kept in the home (``bench-thumbs/``) and
swapped by renaming folders while no Studio is open; ``--thumbs`` picks one.

    .venv/bin/python benchmarks/ui_gallery.py [--home DIR] [--products N] [--repeats R]
                                              [--thumbs swatch,textured]

Without ``--home`` the home is built in a temporary folder and removed at the end; with it,
the home is built there on the first run and reused afterwards (building 10,000 products and
their textured thumbnails took ~2 min on a 2-core VM; a run after that ~2 min).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import imagen_nb as inb

CHROMIUM = os.environ.get("IMAGEN_NB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]
VIEWPORT = {"width": 1400, "height": 900}
SUBJECTS = ["fox", "owl", "cat", "whale", "tiger", "castle", "robot", "forest", "lighthouse", "dragon"]
COLOURS = ["red", "green", "blue", "amber"]
SEARCHES = ["amber", "fox", "red", "owl", "green", "castle", "blue", "robot", "amber whale", "tiger"]
OPEN_TARGET_S = 1.0
FILTER_TARGET_MS = 300
SETTLE_S = 0.6  # after each change: let the next page (infinite scroll) and its frames arrive

# ---- the page side: timings taken on animation frames -------------------------------------
PAGE_SCRIPT = r"""
(() => {
  const B = window.__bench = { mount: null, dom: null, visible: null, first: null, panel: null };
  function deepFind(root, sel) {
    const hit = root.querySelector(sel);
    if (hit) return hit;
    for (const el of root.querySelectorAll("*")) {
      if (el.shadowRoot) { const h = deepFind(el.shadowRoot, sel); if (h) return h; }
    }
    return null;
  }
  // The grid is shown when it has tiles (none left from before a change) and every tile inside
  // the window and the scroll box has its thumbnail loaded and decoded.
  function gridState(panel, fresh) {
    const tiles = panel.querySelectorAll(".inb-gallery-tile");
    if (!tiles.length) return null;
    if (fresh && panel.querySelector(".inb-gallery-tile[data-bench-old]")) return null;
    const box = panel.querySelector(".inb-gallery-body").getBoundingClientRect();
    const top = Math.max(box.top, 0), bottom = Math.min(box.bottom, innerHeight);
    let visible = 0;
    for (const t of tiles) {
      const r = t.getBoundingClientRect();
      if (r.bottom <= top || r.top >= bottom) continue;
      visible++;
      const img = t.querySelector("img");
      if (img && (!img.complete || img.naturalWidth === 0)) return null;
    }
    if (!visible) return null;
    const chip = panel.querySelector(".inb-gallery-count");
    return { tiles: tiles.length, visible, count: chip ? chip.textContent : "" };
  }
  function tick() {
    const now = performance.now();
    if (!B.panel) { B.panel = deepFind(document, ".inb-gallery"); if (B.panel) B.mount = now; }
    if (B.panel) {
      if (B.dom === null && B.panel.querySelector(".inb-gallery-tile")) B.dom = now;
      const s = gridState(B.panel, false);
      if (s) { B.visible = now; B.first = s; return; }
    }
    requestAnimationFrame(tick);
  }
  requestAnimationFrame(tick);
  // what: "search" or a select's aria-label ("Project", "Model"); how: "input" | "enter" | "change"
  B.change = (what, value, how) => new Promise((resolve) => {
    const panel = B.panel;
    for (const t of panel.querySelectorAll(".inb-gallery-tile")) t.dataset.benchOld = "1";
    const el = what === "search" ? panel.querySelector(".inb-gallery-search")
                                 : panel.querySelector(`select[aria-label="${what}"]`);
    const t0 = performance.now();
    el.value = value;
    if (how === "enter") el.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    else el.dispatchEvent(new Event(how, { bubbles: true }));
    let dom = null;
    const tick = () => {
      const now = performance.now();
      if (dom === null && panel.querySelector(".inb-gallery-tile")
          && !panel.querySelector(".inb-gallery-tile[data-bench-old]")) dom = now - t0;
      const s = gridState(panel, true);
      if (s) resolve({ ms: now - t0, dom: dom === null ? now - t0 : dom, ...s });
      else requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
})();
"""


# ---- the home -------------------------------------------------------------------------------
def build_home(home: Path, n: int, size: int) -> None:
    """N products in 10 orders (one project each) on instant:swatch; skipped when already there."""
    per = n // 10
    assert per * 10 == n and per % len(COLOURS) == 0, "N must be a multiple of 40"
    with inb.Studio(home, limit=per, providers={"instant": {"concurrency": 2}}) as studio:
        have = studio.gallery_count()
        if have:
            print(f"home {home}: reusing {have:,} products")
            return
        t0 = time.perf_counter()
        orders = [studio.order("instant:swatch", project=f"{subject} studies", width=size, height=size,
                               prompt=f"a [{','.join(COLOURS)}] {subject}", seed=f"[1..{per // len(COLOURS)}]")
                  for subject in SUBJECTS]
        for order in orders:
            order.wait(timeout=1800)
            assert order.status == "fulfilled", order
        deadline = time.monotonic() + 60
        while studio.gallery_count() < n and time.monotonic() < deadline:
            time.sleep(0.2)
        print(f"home {home}: built {studio.gallery_count():,} products ({size}×{size}) "
              f"in {time.perf_counter() - t0:.1f} s")


def _textured(swatch_thumb: bytes, noise) -> bytes:
    from PIL import Image, ImageChops

    with Image.open(io.BytesIO(swatch_thumb)) as im:
        base = im.convert("RGB")
    layer = noise if noise.size == base.size else noise.resize(base.size)
    out = io.BytesIO()
    ImageChops.add(base, layer, scale=1.0, offset=-128).save(out, format="WEBP", quality=80, method=1)
    return out.getvalue()


def prepare_thumbs(home: Path) -> None:
    """Keep both thumbnail sets in ``bench-thumbs/``: the swatches' own, and textured ones."""
    store = home / "bench-thumbs"
    active = store / "ACTIVE"
    if active.exists():
        return
    from PIL import Image, ImageFilter

    store.mkdir(exist_ok=True)
    swatch = home / "thumbs"
    if not any(swatch.rglob("*.webp")):
        raise SystemExit("the products have no thumbnail files (images ≤ 256 px are their own): use --size 512")
    t0 = time.perf_counter()
    noises = [Image.merge("RGB", [Image.effect_noise((256, 256), 60).filter(ImageFilter.GaussianBlur(1))
                                  for _ in range(3)]) for _ in range(32)]
    target = store / "textured"
    files = sorted(swatch.rglob("*.webp"))

    def one(args):
        i, path = args
        out = target / path.relative_to(swatch)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(_textured(path.read_bytes(), noises[i % len(noises)]))

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(one, enumerate(files)))
    active.write_text("swatch")
    sizes = [p.stat().st_size for p in target.rglob("*.webp")]
    print(f"textured thumbnails: {len(sizes):,} files, mean {statistics.mean(sizes) / 1024:.1f} KiB "
          f"(swatch: {statistics.mean(p.stat().st_size for p in files) / 1024:.2f} KiB), "
          f"made in {time.perf_counter() - t0:.1f} s")


def use_thumbs(home: Path, kind: str) -> None:
    """Put thumbnail set ``kind`` in ``<home>/thumbs`` (no Studio may be open on the home)."""
    store = home / "bench-thumbs"
    current = (store / "ACTIVE").read_text().strip()
    if current == kind:
        return
    os.replace(home / "thumbs", store / current)
    os.replace(store / kind, home / "thumbs")
    (store / "ACTIVE").write_text(kind)


# ---- measuring ------------------------------------------------------------------------------
def json_size(content) -> int:
    return len(json.dumps(content, separators=(",", ":"), ensure_ascii=False, default=str).encode())


class Replies:
    """Wraps the served controllers: every gallery reply's method, handling time and size, by phase."""

    def __init__(self):
        from imagen_nb import app
        from imagen_nb.ui.gallery import GalleryController

        self.rows: list[dict] = []
        self.phase = "none"
        self._local = threading.local()
        self._lock = threading.Lock()
        self._patched = [(GalleryController, "handle", GalleryController.handle),
                         (app._ComponentTransport, "send", app._ComponentTransport.send)]
        handle, send = GalleryController.handle, app._ComponentTransport.send
        bench = self

        def timed_handle(controller, content, buffers=()):
            bench._local.method = content.get("method")
            bench._local.size = None
            t0 = time.perf_counter()
            try:
                return handle(controller, content, buffers)
            finally:
                row = {"phase": bench.phase, "method": bench._local.method, "s": time.perf_counter() - t0}
                if bench._local.size:
                    row.update(bench._local.size)
                with bench._lock:
                    bench.rows.append(row)
                bench._local.method = None

        def counted_send(transport, content, buffers=()):
            if "reply" in content and getattr(bench._local, "method", None):
                result = content.get("result") or {}
                page = result.get("page", result) if isinstance(result, dict) else {}
                bench._local.size = {"json": json_size(content), "buffers": sum(len(b) for b in buffers),
                                     "items": len(page.get("items") or []) if isinstance(page, dict) else 0}
            return send(transport, content, buffers)

        GalleryController.handle = timed_handle
        app._ComponentTransport.send = counted_send

    def of(self, phase: str, method: str | None = None) -> list[dict]:
        with self._lock:
            return [r for r in self.rows if r["phase"] == phase and (method is None or r["method"] == method)]

    def restore(self) -> None:
        for owner, name, fn in self._patched:
            setattr(owner, name, fn)


class Frames:
    """Websocket bytes the page received (and sent), by phase."""

    def __init__(self):
        self.phase = "none"
        self.got: dict[str, int] = {}
        self.sent: dict[str, int] = {}

    def attach(self, page) -> None:
        page.on("websocket", self._socket)

    def _socket(self, ws) -> None:
        ws.on("framereceived", lambda payload: self._add(self.got, payload))
        ws.on("framesent", lambda payload: self._add(self.sent, payload))

    def _add(self, into: dict, payload) -> None:
        size = len(payload.encode()) if isinstance(payload, str) else len(payload)
        into[self.phase] = into.get(self.phase, 0) + size


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_gallery(studio):
    import panel as pn

    from imagen_nb.app import studio_app

    pn.extension(design=None)
    port = free_port()
    server = pn.serve({"/": lambda: studio_app(studio, entry="gallery")}, address="127.0.0.1", port=port,
                      show=False, threaded=True, title="imagen-nb")
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url, timeout=5).read()
            return server, url
        except OSError:
            if time.monotonic() > deadline:
                server.stop()
                raise
            time.sleep(0.1)


def open_page(context, url: str, frames: Frames, phase: str) -> dict:
    page = context.new_page()
    frames.attach(page)
    frames.phase = phase
    page.goto(url)
    page.wait_for_function("() => window.__bench && window.__bench.visible !== null", timeout=60_000, polling=50)
    result = page.evaluate("""() => ({mount: __bench.mount, dom: __bench.dom, at: __bench.visible, tiles: __bench.first.tiles,
        inview: __bench.first.visible,
        offsite: performance.getEntriesByType('resource').map((e) => e.name)
                   .filter((u) => !/^(https?|wss?):\\/\\/127\\.0\\.0\\.1[:/]/.test(u) && !/^(data|blob):/.test(u))})""")
    page.wait_for_timeout(SETTLE_S * 1000)
    result["page"] = page
    return result


def change(page, frames: Frames, replies: Replies, phase: str, what: str, value: str, how: str) -> dict:
    frames.phase = replies.phase = phase
    result = page.evaluate("([what, value, how]) => __bench.change(what, value, how)", [what, value, how])
    page.wait_for_timeout(SETTLE_S * 1000)
    frames.phase = replies.phase = "none"
    return result


def controller_timings(studio, runs: int = 20) -> list[tuple[str, list[float], dict]]:
    """init and page requests handled by a GalleryController over the home (no browser)."""
    from imagen_nb.ui.gallery import GalleryController

    class Transport:
        last = None

        def send(self, content, buffers=()):
            Transport.last = (content, list(buffers))

        def schedule(self, fn):
            fn()

    controller = GalleryController(studio)
    controller.attach(Transport())
    project = studio.projects().iloc[0]
    cases = [
        ("init (menus + first page of 60 + total)", "init", {}),
        ("page 0, total", "page", {}),
        ("page at offset 5,000, no total", "page", {"offset": 5000, "total": False}),
        (f"page 0 + total, project = {project['name']!r}", "page", {"filters": {"project_id": project["id"]}}),
        ("page 0 + total, model = instant:swatch", "page", {"filters": {"model": "instant:swatch"}}),
        ("page 0 + total, text = 'amber'", "page", {"filters": {"text": "amber"}}),
    ]
    out = []
    rid = 0
    try:
        for label, method, args in cases:
            times = []
            for i in range(runs + 2):
                rid += 1
                t0 = time.perf_counter()
                controller.handle({"panel": "gallery", "rid": rid, "method": method, "args": args}, [])
                if i >= 2:  # two warm-ups
                    times.append(time.perf_counter() - t0)
                content, buffers = Transport.last
                assert content["ok"], content
            result = content["result"]
            page = result.get("page", result)
            out.append((label, times, {"json": json_size(content), "buffers": sum(len(b) for b in buffers),
                                       "items": len(page["items"]), "total": page["total"]}))
    finally:
        controller.close()
    return out


def ms(values) -> str:
    return f"{statistics.median(values) * 1000:.0f} / {max(values) * 1000:.0f}"


def run_kind(browser, home: Path, kind: str, repeats: int) -> None:
    print(f"\n### thumbnails: {kind}\n")
    with inb.Studio(home) as studio:
        n = studio.gallery_count()
        projects = studio.projects()
        sample = [Path(p) for p in studio.gallery(limit=60).thumb_path]
        thumb_kib = statistics.mean(p.stat().st_size for p in sample) / 1024
        print(f"{n:,} products; first page's thumbnails: mean {thumb_kib:.2f} KiB\n")

        print("Controller alone (Python, no browser; median / max of 20 runs, ms):\n")
        print("| request | median / max ms | items | total | JSON KiB | thumbnails KiB |")
        print("|---|---:|---:|---:|---:|---:|")
        for label, times, size in controller_timings(studio):
            print(f"| {label} | {ms(times)} | {size['items']} | {size['total'] if size['total'] is not None else '—'} "
                  f"| {size['json'] / 1024:.1f} | {size['buffers'] / 1024:.1f} |")

        replies = Replies()
        server = None
        try:
            server, url = serve_gallery(studio)
            frames = Frames()
            opens = {"cold": [], "warm": []}
            offsite = set()
            for r in range(repeats):
                context = browser.new_context(viewport=VIEWPORT)
                context.add_init_script(PAGE_SCRIPT)
                try:
                    for cache in ("cold", "warm"):
                        replies.phase = f"open-{cache}-{r}"
                        got = open_page(context, url, frames, replies.phase)
                        offsite.update(got["offsite"])
                        got["init"] = replies.of(replies.phase, "init")
                        opens[cache].append(got)
                        if cache == "warm" and r == repeats - 1:
                            page = got["page"]  # the filters run on the last page opened
                        else:
                            got["page"].close()
                finally:
                    if r != repeats - 1:
                        context.close()
            last_context = context
            try:
                print(f"\nOpening the panel ({repeats} runs each; median / max ms; the page's own clock):\n")
                print("| HTTP cache | navigation → panel mounted | mounted → tiles in DOM | mounted → first page visible | "
                      "navigation → first page visible | init handled in Python | tiles / in view |")
                print("|---|---:|---:|---:|---:|---:|---:|")
                for cache, runs in opens.items():
                    mount = [g["mount"] / 1000 for g in runs]
                    dom = [(g["dom"] - g["mount"]) / 1000 for g in runs]
                    shown = [(g["at"] - g["mount"]) / 1000 for g in runs]
                    total = [g["at"] / 1000 for g in runs]
                    py = [g["init"][0]["s"] for g in runs if g["init"]]
                    print(f"| {cache} | {ms(mount)} | {ms(dom)} | {ms(shown)} | {ms(total)} | {ms(py) if py else '—'} "
                          f"| {runs[0]['tiles']} / {runs[0]['inview']} |")
                init = next(g["init"][0] for g in opens["cold"] if g["init"] and "json" in g["init"][0])
                print(f"\ninit reply (options + first page of {init['items']}): JSON {init['json'] / 1024:.1f} KiB "
                      f"+ thumbnails {init['buffers'] / 1024:.1f} KiB = {(init['json'] + init['buffers']) / 1024:.1f} KiB")
                print("websocket bytes received while opening (document, panel code, init reply, next page): "
                      + ", ".join(f"{cache} {statistics.median(frames.got.get(f'open-{cache}-{r}', 0) for r in range(repeats)) / 1024:.0f} KiB"
                                  for cache in opens))
                if offsite:
                    print(f"requests off 127.0.0.1: {sorted(offsite)[:5]}")

                # ---- filters on the last page ----
                cases = []
                ids = list(projects["id"])
                for i in range(repeats):
                    cases.append(("project", f"project-{i}", "Project", ids[i % len(ids)], "change"))
                cases.append((None, "reset", "Project", "", "change"))
                for i in range(repeats):
                    value = "instant:swatch" if i % 2 == 0 else ""
                    cases.append(("model" if value else "model cleared", f"model-{i}", "Model", value, "change"))
                if repeats % 2:
                    cases.append((None, "reset-model", "Model", "", "change"))
                for i in range(repeats):
                    cases.append(("search typed (250 ms debounce)", f"typed-{i}", "search", SEARCHES[i % len(SEARCHES)], "input"))
                for i in range(repeats):
                    cases.append(("search + Enter", f"enter-{i}", "search", SEARCHES[(i + 3) % len(SEARCHES)], "enter"))
                results: dict[str, list[dict]] = {}
                for label, phase, what, value, how in cases:
                    got = change(page, frames, replies, phase, what, value, how)
                    got["replies"] = replies.of(phase)
                    got["wire"] = frames.got.get(phase, 0)
                    if label:
                        results.setdefault(label, []).append(got)

                print(f"\nApplying a filter (from the change event to the new first page visible; median / max ms of "
                      f"{repeats}, the page's own clock):\n")
                print("| filter | change → first page visible ms | change → new tiles in DOM ms | page handled in Python ms "
                      "| matches | page replies | KiB per page reply (JSON + thumbnails) | websocket KiB received |")
                print("|---|---:|---:|---:|---|---:|---:|---:|")
                for label, runs in results.items():
                    pages = [r for g in runs for r in g["replies"] if r["method"] == "page" and "json" in r]
                    first = [g["replies"][0]["s"] for g in runs if g["replies"]]
                    per_page = statistics.median((r["json"] + r["buffers"]) / 1024 for r in pages) if pages else 0
                    js = statistics.median(r["json"] / 1024 for r in pages) if pages else 0
                    counts = sorted({g["count"] for g in runs})
                    print(f"| {label} | {ms([g['ms'] / 1000 for g in runs])} | {ms([g['dom'] / 1000 for g in runs])} "
                          f"| {ms(first) if first else '—'} "
                          f"| {', '.join(counts[:2])}{' …' if len(counts) > 2 else ''} "
                          f"| {len(pages) / len(runs):.1f} | {per_page:.1f} ({js:.1f} + {per_page - js:.1f}) "
                          f"| {statistics.median(g['wire'] for g in runs) / 1024:.1f} |")
                sent = [r for r in replies.rows if r["method"] == "page" and r.get("items") == 60]
                if sent:
                    kib = statistics.median((r["json"] + r["buffers"]) / 1024 for r in sent)
                    print(f"\nbytes per page of 60 (all full page replies in the app, median): {kib:.1f} KiB")
            finally:
                last_context.close()
        finally:
            if server is not None:
                server.stop()
                server.join(timeout=10)
            replies.restore()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--home", help="build the home here on the first run, reuse it afterwards")
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=512, help="width and height of the products (> 256)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--thumbs", default="swatch,textured", help="thumbnail sets to measure, in this order")
    args = parser.parse_args()
    try:
        import panel  # noqa: F401
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        print(f"skipped: needs panel and playwright (pip install -e '.[dev]'): {exc}", file=sys.stderr)
        sys.exit(0)  # `./dev.sh bench` goes on
    if not Path(CHROMIUM).exists():
        print(f"skipped: no Chromium at {CHROMIUM}: apt-get install -y chromium (or set IMAGEN_NB_CHROMIUM)",
              file=sys.stderr)
        sys.exit(0)

    tmp = None if args.home else tempfile.mkdtemp(prefix="inb-bench-gallery-")
    home = Path(args.home or tmp).absolute()
    try:
        build_home(home, args.products, args.size)
        prepare_thumbs(home)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                print(f"Chromium {browser.version}, viewport {VIEWPORT['width']}×{VIEWPORT['height']}")
                for kind in args.thumbs.split(","):
                    use_thumbs(home, kind.strip())
                    run_kind(browser, home, kind.strip(), args.repeats)
            finally:
                browser.close()
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
