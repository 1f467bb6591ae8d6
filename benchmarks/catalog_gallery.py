"""Gallery queries on a 100,000-product catalog: a filtered page, a prompt search, user SQL.

Builds a catalog in a temporary home (5 models, 20 projects, 3 collections, prompts from a
vocabulary in which about 2.5 % mention a fox, ratings on about 1 in 8 products, created_at
spread over 90 days; each product file is an empty placeholder, because opening a Studio
soft-deletes rows whose file is missing), then times each query: 3 warm-up runs, then the
median and 90th percentile of 50 runs. Targets: page ≤ 50 ms, search ≤ 100 ms. Opening the
Studio on that home (which checks every product file) is timed once.

    .venv/bin/python benchmarks/catalog_gallery.py [N] [--explain]

``--explain`` also prints DuckDB's EXPLAIN ANALYZE of the two gallery queries.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import imagen_nb as inb
from imagen_nb.catalog import Catalog
from imagen_nb.catalog import collections as q_collections
from imagen_nb.catalog import models as q_models
from imagen_nb.catalog import products as q_products
from imagen_nb.catalog import projects as q_projects
from imagen_nb.core.ids import new_id
from imagen_nb.core.records import ModelInfo
from imagen_nb.providers.diffusers.specs import text_to_image_spec, tiny_spec

BATCH = 10_000
WARMUP = 3
RUNS = 50
PAGE_TARGET_MS = 50
SEARCH_TARGET_MS = 100
PAGE_MODEL = "diffusers:runwayml/stable-diffusion-v1-5"
SEARCH_TEXT = "fox"

MODELS = [
    ModelInfo("diffusers", "tiny", "text-to-image", "stable-diffusion-1", tiny_spec(), "offline tiny model"),
    ModelInfo("diffusers", "runwayml/stable-diffusion-v1-5", "text-to-image", "stable-diffusion-1",
              text_to_image_spec("stable-diffusion-1"), "SD 1.5"),
    ModelInfo("diffusers", "stabilityai/stable-diffusion-xl-base-1.0", "text-to-image", "sdxl",
              text_to_image_spec("sdxl"), "SDXL base"),
    ModelInfo("fal", "fal-ai/flux/schnell", "text-to-image", "flux", {"type": "object"}, "FLUX schnell"),
    ModelInfo("replicate", "black-forest-labs/flux-dev", "text-to-image", "flux", {"type": "object"}, "FLUX dev"),
]
SIZES = {"stable-diffusion-1": [(512, 512), (512, 768), (768, 512)],
         "sdxl": [(1024, 1024), (832, 1216), (1216, 832)],
         "flux": [(1024, 1024), (1024, 768), (768, 1024)]}

# 40 subjects, one of them the fox: ~1 prompt in 40 matches 'fox' (no other word contains it).
SUBJECTS = ["fox", "cat", "dog", "owl", "horse", "dragon", "castle", "lighthouse", "robot", "astronaut",
            "samurai", "wizard", "mermaid", "tiger", "wolf", "bear", "rabbit", "deer", "whale", "octopus",
            "city street", "forest", "mountain lake", "desert", "waterfall", "spaceship", "train station",
            "garden", "library", "market", "cathedral", "bridge", "island", "village", "harbor",
            "greenhouse", "portrait of a woman", "portrait of an old man", "knight", "tea house"]
ADJECTIVES = ["a red", "a tiny", "an ancient", "a glowing", "a misty", "a cozy", "a giant", "a lonely",
              "a golden", "a mechanical", "a snowy", "a cheerful"]
PLACES = ["at sunset", "in the rain", "under the stars", "at dawn", "in autumn", "in winter",
          "on a summer day", "at night", "in fog", "by candlelight"]
STYLES = ["oil painting", "watercolor", "studio photograph, 85mm", "digital art, trending on artstation",
          "ukiyo-e woodblock print", "pencil sketch", "cinematic lighting, 8k", "low poly 3d render",
          "isometric illustration", "film photograph, kodak portra 400"]
NEGATIVES = ["", "", "blurry, low quality", "text, watermark", "deformed hands, extra fingers"]


def build(home: Path, n: int, rng: random.Random) -> None:
    """Fill the catalog of ``home`` with ``n`` products through the catalog's own writers."""
    catalog = Catalog(home)
    try:
        cur = catalog.cursor()
        q_models.upsert(cur, MODELS)
        project_ids = []
        for i in range(20):
            project_ids.append(new_id())
            q_projects.create(cur, project_ids[-1], f"project {i:02d}", f"benchmark project {i}")

        # Rows go in oldest first, as a real catalog fills up (ids are time-ordered too).
        now = datetime.now(timezone.utc)
        span = timedelta(days=90).total_seconds()
        stamps = sorted(now - timedelta(seconds=rng.random() * span) for _ in range(n))
        all_ids: list[str] = []
        order_id = None
        for start in range(0, n, BATCH):
            rows = []
            for created in stamps[start:start + BATCH]:
                if order_id is None or rng.random() < 1 / 20:  # orders of ~20 products
                    order_id, model, project_id = new_id(), rng.choice(MODELS), rng.choice(project_ids + [None])
                    base_prompt = (f"{rng.choice(ADJECTIVES)} {rng.choice(SUBJECTS)} {rng.choice(PLACES)}, "
                                   f"{rng.choice(STYLES)}")
                    width, height = rng.choice(SIZES[model.family])
                    steps = rng.choice([4, 20, 25, 30, 50]) if model.provider == "diffusers" else 4
                    guidance = rng.choice([5.0, 7.0, 7.5, 9.0]) if model.provider == "diffusers" else 3.5
                    negative = rng.choice(NEGATIVES)
                product_id, generation_id = new_id(), new_id()
                seed = rng.randrange(2**32)
                params = {"prompt": base_prompt, "negative_prompt": negative, "width": width, "height": height,
                          "num_inference_steps": steps, "guidance_scale": guidance, "seed": seed,
                          "num_images_per_prompt": 1, "scheduler": "DPM++ 2M"}
                ym = f"{created.year:04d}/{created.month:02d}"
                rows.append({
                    "id": product_id, "generation_id": generation_id, "order_id": order_id,
                    "project_id": project_id, "model_id": model.id, "source": "generated", "kind": "image",
                    "media_type": "image/png", "path": f"products/{ym}/{product_id}.png",
                    "thumb_path": f"thumbs/{ym}/{product_id}.webp",
                    "size": rng.randrange(300_000, 2_000_000), "width": width, "height": height,
                    "sha256": rng.randbytes(32).hex(), "prompt": base_prompt, "negative_prompt": negative,
                    "seed": seed, "num_inference_steps": steps, "guidance_scale": guidance,
                    "params": params, "created_at": created,
                })
                all_ids.append(product_id)
            q_products.insert_products(cur, rows)
            for row in rows:
                path = Path(home) / row["path"]  # the catalog keeps paths relative to the home
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch()

        rated = rng.sample(all_ids, n // 8)
        for rating in range(1, 6):
            q_products.rate(cur, rated[rating - 1::5], rating)
        for name, size in (("favourites", 400), ("print", 150), ("moodboard", 1000)):
            collection_id = new_id()
            q_collections.create(cur, collection_id, name)
            q_collections.add(cur, collection_id, rng.sample(all_ids, size))
        q_products.soft_delete(cur, rng.sample(all_ids, n // 100))
        page = q_products.gallery_page(cur, limit=50, model=PAGE_MODEL)
        found = cur.execute("SELECT count(*) FROM gallery WHERE prompt ILIKE '%fox%'").fetchone()[0]
        assert len(page) == 50, len(page)
        print(f"built {n:,} products; {found:,} live ones mention {SEARCH_TEXT!r} ({found / n:.1%})",
              file=sys.stderr)
    finally:
        catalog.close()


def timed(fn: Callable[[], object], check: Callable[[object], None]) -> list[float]:
    """Milliseconds of ``RUNS`` calls of ``fn`` after ``WARMUP`` calls (checked with ``check``)."""
    for _ in range(WARMUP):
        check(fn())
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
        check(result)
    return times


def p90(times: list[float]) -> float:
    return statistics.quantiles(times, n=10)[-1]


def fifty(frame) -> None:
    assert len(frame) == 50, len(frame)


def explain(cur, sql: str, args: list) -> None:
    print(f"\n-- EXPLAIN ANALYZE {sql} {args}", file=sys.stderr)
    for _, plan in cur.execute("EXPLAIN ANALYZE " + sql, args).fetchall():
        print(plan, file=sys.stderr)


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 100_000
    rng = random.Random(20240501)
    rows: list[tuple[str, list[float], float | None]] = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        t0 = time.perf_counter()
        build(home, n, rng)
        built = time.perf_counter() - t0

        catalog = Catalog(home)
        try:
            cur = catalog.cursor()
            rows.append(("gallery_page(limit=50, model=…)",
                         timed(lambda: q_products.gallery_page(cur, limit=50, model=PAGE_MODEL), fifty),
                         PAGE_TARGET_MS))
            rows.append((f"gallery_page(limit=50, text={SEARCH_TEXT!r})",
                         timed(lambda: q_products.gallery_page(cur, limit=50, text=SEARCH_TEXT), fifty),
                         SEARCH_TARGET_MS))
            if "--explain" in sys.argv:
                base = "SELECT * EXCLUDE (params) FROM gallery WHERE {} ORDER BY created_at DESC, product_id DESC LIMIT 50"
                explain(cur, base.format("model = ?"), [PAGE_MODEL])
                explain(cur, base.format("prompt ILIKE '%' || ? || '%'"), [SEARCH_TEXT])
        finally:
            catalog.close()

        query = "select prompt, seed from gallery where model = ? order by created_at desc limit 50"
        t0 = time.perf_counter()
        with inb.Studio(home) as studio:
            opened = time.perf_counter() - t0
            assert not studio.recovery, studio.recovery
            rows.append(("Studio.sql(model = ?, limit 50)",
                         timed(lambda: studio.sql(query, [PAGE_MODEL]), fifty), None))

    print(f"catalog: {n:,} products, built in {built:.1f} s; Studio(home) opened in {opened * 1000:.0f} ms",
          file=sys.stderr)
    print("| query | products | median ms | p90 ms | target ms | met |")
    print("|---|---:|---:|---:|---:|:---:|")
    for name, times, target in rows:
        med = statistics.median(times)
        met = "—" if target is None else ("yes" if med <= target else "**no**")
        print(f"| `{name}` | {n:,} | {med:.1f} | {p90(times):.1f} | {target or '—'} | {met} |")


if __name__ == "__main__":
    main()
