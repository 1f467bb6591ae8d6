"""Time the infotext parser on huge single-line prompts, and run the hostile-file corpus.

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/hostile_parse.py``. Prints two markdown tables:

1. ``parse_infotext`` on 100 KB and 1 MB single lines of several shapes (median of 5 runs).
   The parser before issue 10 was quadratic: 52 s for 100 KB of prompt, hours for 1 MB.
2. Every attack of ``tests/reliability/test_hostile_files.py`` imported into a fresh studio:
   outcome, wall time, tracemalloc peak; and the count of attacks tried / held.
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import imagen_nb as inb
from imagen_nb.store.pngmeta import parse_infotext

KB, MB = 1 << 10, 1 << 20
TAIL = "\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, Model: sd15"

SHAPES = {
    "words, no colon": lambda n: "word " * (n // 5),
    "A1111 prompt on one line, then the parameter line": lambda n: "masterpiece, best quality, " * (n // 27) + TAIL,
    "one line of (emphasis:1.2) prompt": lambda n: "masterpiece, (dramatic lighting:1.2), " * (n // 38),
    "parameter line of open quotes": lambda n: 'a:"\\",' * (n // 7),
    "one key repeated": lambda n: "Seed: 1, " * (n // 9),
}


def time_parse() -> None:
    print("| line | 100 KB | 1 MB |")
    print("|---|---:|---:|")
    for name, make in SHAPES.items():
        cells = []
        for size in (100 * KB, MB):
            text = make(size)
            runs = []
            for _ in range(5):
                start = time.perf_counter()
                parse_infotext(text)
                runs.append(time.perf_counter() - start)
            cells.append(f"{statistics.median(runs) * 1000:.1f} ms")
        print(f"| {name} | {' | '.join(cells)} |")


def load_attacks():
    path = Path(__file__).resolve().parents[1] / "tests" / "reliability" / "test_hostile_files.py"
    spec = importlib.util.spec_from_file_location("hostile_files", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module.ATTACKS


def run_corpus() -> None:
    attacks = load_attacks()
    held = 0
    print("\n| attack | expected | got | import time | Python peak |")
    print("|---|---|---|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for i, attack in enumerate(attacks):
            os.environ["IMAGEN_NB_HOME"] = f"{tmp}/home{i}"
            path = Path(tmp) / f"hostile-{attack.name}{attack.suffix}"
            path.write_bytes(attack.make())
            with inb.Studio() as studio:
                tracemalloc.start()
                start = time.perf_counter()
                with warnings.catch_warnings(record=True):
                    warnings.simplefilter("always")
                    try:
                        studio.import_products([path])
                        got = "imported"
                    except inb.ValidationError as e:
                        got = "refused" if path.name in str(e) else f"unclear error: {e}"
                    except Exception as e:  # noqa: BLE001 - a crash is what this counts
                        got = f"{type(e).__name__}: {str(e)[:60]}"
                elapsed = time.perf_counter() - start
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                rows = int(studio.sql("select count(*) as n from products").n[0])
                files = sum(1 for d in ("products", "thumbs") for p in (studio.home / d).rglob("*") if p.is_file())
                clean = (rows == 0 and files == 0) if got == "refused" else rows == 1
                ok = got == attack.outcome and clean and peak < 48 * MB and elapsed < 60
                held += ok
                print(f"| {attack.name} | {attack.outcome} | {got}{'' if clean else ' (partial write!)'} | "
                      f"{elapsed * 1000:.0f} ms | {peak / MB:.1f} MB |")
    print(f"\nHostile files: {len(attacks)} tried, {held} held.")


if __name__ == "__main__":
    time_parse()
    if "--parse-only" not in sys.argv:
        run_corpus()
