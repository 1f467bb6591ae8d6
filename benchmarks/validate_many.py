"""Time the validation of one large order: 10,000 parameter sets (100 prompts × 100 seeds).

Run: ``.venv/bin/python benchmarks/validate_many.py``. Prints the median of 5 runs of
``Factory.validate_many`` on the instant model (the first run, which imports jsonschema, is
reported apart). Each distinct value is checked once (see ``providers/checks.py``).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from imagen_nb.providers.base import ProviderContext
from imagen_nb.providers.instant import InstantProvider


def main() -> None:
    provider = InstantProvider(ProviderContext(home=Path(tempfile.mkdtemp())))
    factory = provider.factory(provider.model("swatch"))
    sets = [{"prompt": f"a fox {i}", "seed": s, "num_inference_steps": 1} for i in range(100) for s in range(100)]
    times = []
    for _ in range(6):
        started = time.perf_counter()
        factory.validate_many(sets)
        times.append(time.perf_counter() - started)
    print(f"| 10,000 | {times[0]:.2f} | {statistics.median(times[1:]):.3f} | "
          + ", ".join(f"{t:.3f}" for t in times[1:]) + " |")


if __name__ == "__main__":
    main()
