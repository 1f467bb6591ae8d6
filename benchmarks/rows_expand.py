"""Time the expansion of orders from rows (issue 13): a 10,000-row table × 3 seeds.

Run: ``.venv/bin/python benchmarks/rows_expand.py``. Prints one markdown table row per case:
median and best of several runs of ``expand_rows`` (check the cells, count, build and fill
every generation dict). Target: 10,000 rows × 3 seeds (30,000 generations) in ≤ 100 ms.
"""

from __future__ import annotations

import statistics
import time

from imagen_nb.core.rows import expand_rows

VALUES = ["Ace", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten", "Jack", "Queen", "King"]
SUITS = ["Spades", "Hearts", "Diamonds", "Clubs"]
ROWS = [{"value": VALUES[i % 13], "suit": SUITS[i // 13 % 4], "visual_layout": f"layout number {i}",
         "style": "ink" if i % 2 else "oil"} for i in range(10_000)]
TEMPLATE = {"prompt": "a playing card, gothic, {value} of {suit}. {visual_layout}, {style}",
            "negative_prompt": "blurry, no {suit}", "width": 512, "height": 720, "num_inference_steps": 25}
TYPES = {"seed": "integer", "width": "integer", "height": "integer", "num_inference_steps": "integer"}

CASES = {
    "10,000 rows × 3 seeds": ({**TEMPLATE, "seed": "[1,2,3]"}, ROWS),
    "10,000 rows × 3 seeds, seed column": ({**TEMPLATE, "guidance_scale": "[6,7,8]"},
                                           [{**r, "seed": str(i)} for i, r in enumerate(ROWS)]),
    "10,000 rows × 3 seeds, random pick": ({**TEMPLATE, "seed": "[1,2,3]",
                                            "prompt": TEMPLATE["prompt"] + ", [day|night]"}, ROWS),
}


def timings(params: dict, rows: list, runs: int = 15) -> tuple[float, float, int]:
    """Median and best wall time in ms, and the number of generations."""
    times = []
    n = 0
    for _ in range(runs):
        start = time.perf_counter()
        n = len(expand_rows(params, rows, parameters=list(TYPES), types=TYPES, rng_seed=1, limit=None).generations)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, min(times) * 1000, n


def main() -> None:
    print("| case | generations | median ms | best ms | µs per generation |")
    print("|---|---:|---:|---:|---:|")
    for name, (params, rows) in CASES.items():
        median, best, n = timings(params, rows)
        print(f"| {name} | {n:,} | {median:.1f} | {best:.1f} | {median * 1000 / n:.2f} |")


if __name__ == "__main__":
    main()
