"""Why the set and row of a product live in the view ``set_products`` and not in ``gallery``
(issue 13): a gallery page with and without the joins on generations and orders.

Builds the 100,000-product catalog of ``catalog_gallery.py`` (plus one generation row per
product, as real catalogs have), then times the Gallery panel's page query (50 newest of one
model) on ``gallery``, on ``gallery`` with the two joins (what putting ``set_name``/``set_row``/
``row_values`` into it would cost), and a page of ``set_products``; 25 alternating rounds.

    .venv/bin/python benchmarks/gallery_set_join.py
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import catalog_gallery as cg  # noqa: E402

from imagen_nb.catalog import Catalog  # noqa: E402

JOINED = """CREATE VIEW gallery_joined AS
    SELECT gl.*, o.set_name, g.set_row, g.row_values FROM gallery gl
    LEFT JOIN orders o ON o.id = gl.order_id LEFT JOIN generations g ON g.id = gl.generation_id"""
PAGE = "SELECT * EXCLUDE (params) FROM {} WHERE model = ? ORDER BY created_at DESC, product_id DESC LIMIT 50"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        cg.build(home, 100_000, random.Random(20240501))
        catalog = Catalog(home)
        try:
            cur = catalog.cursor()
            cur.execute("""INSERT INTO generations (id, order_id, seq, model_id, status, params, set_row)
                           SELECT id, coalesce(order_id, 'o'), 0, coalesce(model_id, 'm'), 'complete', '{}',
                                  CASE WHEN random() < 0.1 THEN 1 END
                           FROM products""")
            cur.execute("UPDATE products SET generation_id = id")
            cur.execute(JOINED)
            queries = {"gallery (as shipped)": PAGE.format("gallery"),
                       "gallery + joins on generations and orders": PAGE.format("gallery_joined"),
                       "set_products (~10% of products)": PAGE.format("set_products")}
            times: dict[str, list[float]] = {k: [] for k in queries}
            for _ in range(25):
                for name, sql in queries.items():
                    start = time.perf_counter()
                    cur.execute(sql, [cg.PAGE_MODEL]).fetchall()
                    times[name].append(time.perf_counter() - start)
            print("| query | median ms | best ms |")
            print("|---|---:|---:|")
            for name, t in times.items():
                print(f"| {name} | {statistics.median(t[3:]) * 1000:.1f} | {min(t) * 1000:.1f} |")
        finally:
            catalog.close()


if __name__ == "__main__":
    main()
