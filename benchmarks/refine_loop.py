"""The refine loop's orchestration against its ideal schedule (issue 15).

10 prompts × 3 rounds, one image per round from ``instant:swatch``; the judge
(``gemini:gemini-2.5-flash/vision``) and the rewriter (``gemini:gemini-2.5-flash``) run through the
real google-genai client against the loopback Gemini of the tests, which answers every call after
``--latency`` seconds; the gemini lane has ``--concurrency`` workers (judge and rewriter share it).

Ideal schedule: per prompt 3 judge calls and 2 rewriter calls in sequence (no rewrite after the
last round), all prompts in parallel on ``concurrency`` slots, images and bookkeeping free:
``ideal = max(5 × latency, ceil(50 / concurrency) × latency)``. Reported: wall time from
``studio.refine`` to the last prompt finished, its ratio to the ideal (target ≤ 1.3×), the API
calls made, and the machine's load average.

    PYTHONPATH=. .venv/bin/python benchmarks/refine_loop.py [--prompts 10] [--rounds 3] [--latency 0.5] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "providers"))

from gemini_server import GeminiServer  # noqa: E402

KEY = "AIzaBenchmarkLoopbackKey0123456789abcd"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ["GEMINI_API_KEY"] = KEY
    import imagen_nb as inb

    calls_per_prompt = args.rounds + (args.rounds - 1)
    total_calls = args.prompts * calls_per_prompt
    ideal = max(calls_per_prompt * args.latency, math.ceil(total_calls / args.concurrency) * args.latency)
    runs = []
    with GeminiServer(KEY, answer=lambda body: json.dumps({"score": 5, "critique": "fine"})
                      if body.get("generationConfig", {}).get("responseMimeType") == "application/json"
                      else "a sharper prompt") as server:
        server.latency = args.latency
        settings = {"gemini": {**server.settings(), "concurrency": args.concurrency}}
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as home:
                with inb.Studio(home, providers=settings, serve=False) as studio:
                    studio.order("instant:swatch", prompt="warm up").wait()
                    seen = len(server.seen)
                    started = time.perf_counter()
                    ref = studio.refine([f"prompt {i}" for i in range(args.prompts)], "instant:swatch",
                                        judge="gemini:gemini-2.5-flash/vision", rewriter="gemini:gemini-2.5-flash",
                                        iterations=args.rounds, stop_at=None)
                    ref.wait(600)
                    wall = time.perf_counter() - started
                    assert ref.status == "done" and ref.progress["rounds_done"] == args.prompts * args.rounds, ref
                    runs.append({"wall": wall, "calls": len(server.seen) - seen})
    walls = sorted(r["wall"] for r in runs)
    median = walls[len(walls) // 2]
    print(f"| prompts × rounds | latency | concurrency | ideal | wall (median of {args.repeat}) | runs | ratio | calls | load |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {args.prompts} × {args.rounds} | {args.latency:g} s | {args.concurrency} | {ideal:.2f} s | {median:.2f} s | "
          f"{', '.join(f'{w:.2f}' for w in walls)} | {median / ideal:.2f}× | {runs[0]['calls']} (of {total_calls}) | "
          f"{os.getloadavg()[0]:.2f} |")


if __name__ == "__main__":
    main()
