"""Counts for RELIABILITY.md: every reliability module's tests and attack list, once a run ends.

Writes ``test-artifacts/reliability/summary.json`` (merged with the modules of earlier runs, so
running one module updates its own entry): per module, the outcomes of its tests (passed,
failed, xfailed = attacks known not to hold, skipped), the length of its attack list (``ATTACKS``,
or ``DAMAGE`` for the corruption cases) and when and how it ran. The modules that count their own
attacks write their own files next to it (http_probes.json, sql_attacks.json, kills.json).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ARTIFACTS = Path(os.environ.get("IMAGEN_NB_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))

_outcomes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
_modules: dict[str, object] = {}


def pytest_collection_modifyitems(session, config, items):
    soak = config.getoption("soak")
    for item in items:
        module = getattr(item, "module", None)
        if module is not None and Path(str(module.__file__)).parent == Path(__file__).parent:
            _modules[Path(module.__file__).stem] = module
            if soak and module.__name__.endswith("test_kills"):
                # a soak runs as long as its kills take (~5-10 s each on 2 busy cores), not 300 s
                item.add_marker(pytest.mark.timeout(120 + 30 * soak))


def pytest_runtest_logreport(report):
    name = Path(report.fspath).stem
    if name not in _modules:
        return
    counts = _outcomes[name]
    if hasattr(report, "wasxfail"):
        if report.when == "call" or report.skipped:
            counts["xfailed" if report.skipped else "xpassed"] += 1
    elif report.when == "call":
        counts[report.outcome] += 1
    elif report.failed:
        counts["errors"] += 1
    elif report.skipped:
        counts["skipped"] += 1


def pytest_sessionfinish(session, exitstatus):
    if not _outcomes:
        return
    folder = ARTIFACTS / "reliability"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "summary.json"
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError):
        summary = {}
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = "pytest " + " ".join(sys.argv[1:])
    for name, counts in sorted(_outcomes.items()):
        module = _modules[name]
        listed = getattr(module, "ATTACKS", None)
        if listed is None:
            listed = getattr(module, "DAMAGE", None)
        entry = {"tests": dict(counts), "attack_list": len(listed) if listed is not None else None,
                 "ran": when, "command": command}
        own = folder / f"{name.removeprefix('test_')}.json"  # the module's own counts, when it keeps them
        if own.exists():
            try:
                data = json.loads(own.read_text())
            except ValueError:
                data = {}
            entry["counts"] = {k: v for k, v in data.items() if isinstance(v, (int, float, str))}
        summary[name] = entry
    path.write_text(json.dumps(summary, indent=1, sort_keys=True))
