"""Time SmartParameter expansion for orders of 1,000 and 10,000 generations.

Run: ``.venv/bin/python benchmarks/expand.py``. Prints one markdown table row per order:
the median of several runs of ``expand`` (parse, count, build every generation dict).
"""

from __future__ import annotations

import statistics
import time

from imagen_nb.core.smart import count, expand

TOKENS = {"animal": ["cat", "dog", "fox", "owl", "bee"], "style": ["oil", "ink"]}

ORDERS = {
    "1,000 lists": {
        "prompt": "a [brown,black,white,grey,red] [animal] in [a garden,the snow,a city,a forest], [style]",
        "seed": "[1..5]",
        "num_inference_steps": 4,
    },
    "10,000 lists": {
        "prompt": "a [brown,black,white,grey,red] [animal] in [a garden,the snow,a city,a forest], [style]",
        "seed": "[1..25]",
        "guidance_scale": "[7..7.5:0.5]",
        "num_inference_steps": 4,
    },
    "1,000 with picks": {
        "prompt": "a [brown|black|white] [?animal], [oil|ink|[pencil,chalk] drawing]",
        "seed": "[1..1000]",
        "guidance_scale": "[5..9:0.5|12]",
    },
    "10,000 with picks": {
        "prompt": "a [brown|black|white] [?animal], [oil|ink|[pencil,chalk] drawing]",
        "seed": "[1..10000]",
        "guidance_scale": "[5..9:0.5|12]",
    },
}


def median_ms(order: dict, runs: int = 15) -> float:
    """Median wall time of ``expand(order)`` in milliseconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        expand(order, tokens=TOKENS, rng_seed=1, limit=None)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    print("| order | generations | median ms | µs per generation |")
    print("|---|---:|---:|---:|")
    for name, order in ORDERS.items():
        n = count(order, tokens=TOKENS)
        ms = median_ms(order)
        print(f"| {name} | {n:,} | {ms:.2f} | {ms * 1000 / n:.2f} |")


if __name__ == "__main__":
    main()
