"""Remote concurrency: a 50-generation fal order against a loopback fal with 0.5 s per generation.

The loopback server (the one the tests use, speaking fal's queue protocol to the real
fal-client) answers each submit after 0.5 s and completes the request at once; with 4
generations in flight the ideal wall time is 50 / 4 × 0.5 s = 6.25 s. Target: ≤ 1.2× that.

    .venv/bin/python benchmarks/remote_latency.py [N] [CONCURRENCY] [LATENCY_S]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "providers"))

from fal_server import FalServer  # noqa: E402  (the tests' loopback fal)

import imagen_nb as inb  # noqa: E402

KEY = "bench-key-id:bench-key-secret"


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    concurrency = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    latency = float(sys.argv[3]) if len(sys.argv) > 3 else 0.5
    os.environ["FAL_KEY"] = KEY
    with FalServer(KEY) as server, tempfile.TemporaryDirectory() as home:
        server.app("fal-ai/fast-sdxl", queued_polls=0, running_polls=0)
        server.fault("submit", "slow", delay=latency, times=10**9)
        settings = server.settings(concurrency=concurrency, poll_interval=0.02)
        with inb.Studio(home, limit=n, providers={"fal": settings}) as studio:
            t0 = time.perf_counter()
            order = studio.order("fal:fal-ai/fast-sdxl", prompt="bench", seed=f"[1..{n}]",
                                 width=64, height=64)
            order.wait()
            wall = time.perf_counter() - t0
            assert order.status == "fulfilled" and len(order.products) == n, order
            calls = studio.sql("select count(*) as n from api_calls").n[0]
    ideal = n / concurrency * latency
    print("| generations | concurrency | latency s | wall s | ideal s | ratio | API calls recorded |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {n} | {concurrency} | {latency} | {wall:.2f} | {ideal:.2f} | {wall / ideal:.2f}× | {calls} |")


if __name__ == "__main__":
    main()
