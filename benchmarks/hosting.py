"""One home, two processes: what a client of the host pays per call, per event and per order.

This process hosts a fresh home and measures each operation in the host itself; then a child
process opens the same home (so it is a client over the loopback API) and measures the same
operations. Printed as a Markdown table for benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/hosting.py [--generations 1000] [--repeat 200]

- ``sql``: ``studio.sql("select count(*) from products")``, median and p90 of ``--repeat`` calls.
- ``order_record``: the row an ``Order`` handle reads (``order.status``).
- ``gallery page``: ``studio.gallery(limit=60)`` and the 60 thumbnails read (bytes).
- ``order N``: ``studio.order("instant:swatch", …N generations…).wait()``, wall time (median of 3).
- ``event latency``: ``GenerationProgress`` events of an order with 20 steps of 10 ms per
  generation, from the moment a worker made the event (``event.at``) to the subscriber's
  callback (same machine clock): median and p99.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _ms(samples: list[float]) -> dict:
    samples = sorted(samples)
    return {"median": statistics.median(samples) * 1000, "p90": samples[int(len(samples) * 0.9) - 1] * 1000,
            "p99": samples[max(0, int(len(samples) * 0.99) - 1)] * 1000}


def measure(studio, generations: int, repeat: int) -> dict:
    """The figures for one studio (a host or a client)."""
    from imagen_nb.core.records import GenerationProgress

    out: dict = {}
    studio.order("instant:swatch", prompt="warm-up [1..8]").wait()  # first-order costs out of the timing
    walls = []
    for _ in range(3):
        started = time.perf_counter()
        order = studio.order("instant:swatch", prompt="bench [red,green,blue,black]", seed=f"[1..{generations // 4}]")
        order.wait()
        walls.append(time.perf_counter() - started)
        assert order.status == "fulfilled", order
    out["order"] = statistics.median(walls)
    for _ in range(3):
        studio.sql("select count(*) from products")
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        studio.sql("select count(*) from products")
        samples.append(time.perf_counter() - t)
    out["sql"] = _ms(samples)
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        studio.order_record(order.id)
        samples.append(time.perf_counter() - t)
    out["order_record"] = _ms(samples)
    samples = []
    for _ in range(max(10, repeat // 10)):
        t = time.perf_counter()
        page = studio.gallery(limit=60)
        thumbs = [Path(p).read_bytes() for p in page["thumb_path"]]
        samples.append(time.perf_counter() - t)
    assert len(thumbs) == 60
    out["gallery"] = _ms(samples)
    lags: list[float] = []
    sub = studio.subscribe(lambda e: lags.append(time.time() - e.at) if isinstance(e, GenerationProgress) else None)
    studio.order("instant:swatch", prompt="events", seed="[1..10]", num_inference_steps=20,
                 step_seconds=0.01).wait()
    time.sleep(0.5)
    sub.close()
    out["events"] = {**_ms(lags), "count": len(lags)}
    return out


CHILD = """
import json, sys
sys.path.insert(0, sys.argv[2])
import imagen_nb as inb
from hosting import measure
studio = inb.Studio(sys.argv[1])
assert not studio.is_host
print(json.dumps(measure(studio, int(sys.argv[3]), int(sys.argv[4]))))
studio.close()
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    import imagen_nb as inb

    home = Path(tempfile.mkdtemp(prefix="inb-hosting-")) / "home"
    with inb.Studio(home) as studio:
        assert studio.is_host
        host = measure(studio, args.generations, args.repeat)
        child = subprocess.run([sys.executable, "-c", CHILD, str(home), str(Path(__file__).parent),
                                str(args.generations), str(args.repeat)], capture_output=True, text=True, check=True)
        client = json.loads(child.stdout.strip().splitlines()[-1])
    rows = [
        ("sql `select count(*) from products`, median ms", host["sql"]["median"], client["sql"]["median"]),
        ("sql, p90 ms", host["sql"]["p90"], client["sql"]["p90"]),
        ("order_record (order.status), median ms", host["order_record"]["median"], client["order_record"]["median"]),
        ("gallery page of 60 + 60 thumbnails, median ms", host["gallery"]["median"], client["gallery"]["median"]),
        (f"order of {args.generations} instant:swatch generations, wall s", host["order"], client["order"]),
        ("step event latency, median ms", host["events"]["median"], client["events"]["median"]),
        ("step event latency, p99 ms", host["events"]["p99"], client["events"]["p99"]),
    ]
    print("| measure | in the host | from a client | client / host |")
    print("|---|---:|---:|---:|")
    for name, h, c in rows:
        print(f"| {name} | {h:.2f} | {c:.2f} | {c / h if h else float('nan'):.2f}× |")
    print(f"(events counted: host {host['events']['count']}, client {client['events']['count']})")


if __name__ == "__main__":
    main()
