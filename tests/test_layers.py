"""Layers point down only (DESIGN.md §4): core ← catalog, store, providers ← engine ← studio ← ui, app (+ web), cli."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "imagen_nb"

# What each layer may import from imagen_nb (besides itself).
ALLOWED = {
    "core": set(),
    "catalog": {"core"},
    "store": {"core"},
    "providers": {"core"},
    "engine": {"core", "catalog", "store", "providers"},
    # local facade, client of a host, the host's API server (Tornado), the handles, and the
    # Studio's rows/sets and grids (studio/rows.py, studio/grid.py; issue 13) (DESIGN §4)
    "studio": {"core", "catalog", "store", "providers", "engine"},
    "ui": {"core"},  # panels get the Studio passed in and talk to it only (DESIGN §4)
    "web": set(),  # the served app's HTTP edge: knows tornado, Bokeh and Panel, nothing of ours
    "app": {"core", "ui", "web"},
    "cli": {"core", "studio", "providers", "app"},  # keys are managed without opening (locking) a studio
    "__init__": {"core", "studio", "ui"},
    "__main__": {"cli"},
}


def layer_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def imported_layers(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    rel = path.relative_to(PACKAGE)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                base = list(rel.parts[:-1])[: len(rel.parts) - node.level]
                target = base + (node.module.split(".") if node.module else [])
                if not target:  # "from . import x" at the top level
                    target = [node.names[0].name]
            elif node.module and node.module.startswith("imagen_nb"):
                target = node.module.split(".")[1:] or [node.names[0].name]
            else:
                continue
            found.add(target[0].removesuffix(".py"))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("imagen_nb."):
                    found.add(alias.name.split(".")[1])
    return found


def test_layers_point_down_only():
    offences = []
    for path in sorted(PACKAGE.rglob("*.py")):
        layer = layer_of(path)
        assert layer in ALLOWED, f"{path}: unknown layer {layer!r}; add it to ALLOWED with its place"
        bad = imported_layers(path) - ALLOWED[layer] - {layer}
        if bad:
            offences.append(f"{path.relative_to(PACKAGE)} imports {sorted(bad)}")
    assert offences == []


def test_sql_lives_in_catalog_only():
    words = ("SELECT ", "INSERT INTO", "UPDATE ", "DELETE FROM", "CREATE TABLE")
    outside = []
    for path in PACKAGE.rglob("*.py"):
        if layer_of(path) == "catalog":
            continue
        text = path.read_text()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    any(w in node.value for w in words) and "cur.execute" in text:
                outside.append(str(path.relative_to(PACKAGE)))
    assert outside == []
