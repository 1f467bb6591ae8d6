"""Vendor the panels' view library (preact + hooks + htm) as plain ES modules.

    python scripts/vendor_ui.py            # fetch the pinned versions with `npm pack`
    python scripts/vendor_ui.py --check    # verify the committed files against VENDOR.json

Writes ``imagen_nb/ui/static/vendor/``: ``preact.mjs``, ``hooks.mjs``, ``htm.mjs``, each
package's licence, and ``VENDOR.json`` (package, version, licence, npm integrity, sha256 of
each file). No bundler: the files are the packages' own minified ES builds, linked into each
panel's module by :mod:`imagen_nb.ui.assets`. Why these: preact is a 4 KB React-compatible
view library with hooks and keyed diffing; htm gives it JSX-like templates without a build step.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[1] / "imagen_nb" / "ui" / "static" / "vendor"
#: package -> (version, {file in the package: vendored name}, licence file)
PACKAGES = {
    "preact": ("11.2.0", {"dist/preact.mjs": "preact.mjs", "hooks/dist/hooks.mjs": "hooks.mjs"}, "LICENSE"),
    "htm": ("3.1.1", {"dist/htm.mjs": "htm.mjs"}, "LICENSE"),
}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch() -> dict:
    """Download the pinned packages with ``npm pack`` and copy their ES builds into ``VENDOR``."""
    if shutil.which("npm") is None:
        sys.exit("npm is not on PATH: install Node.js 18+ to vendor the UI libraries")
    VENDOR.mkdir(parents=True, exist_ok=True)
    record: dict = {"packages": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (version, files, licence) in PACKAGES.items():
            out = subprocess.run(["npm", "pack", f"{name}@{version}", "--json"], cwd=tmp, check=True,
                                 capture_output=True, text=True).stdout
            info = json.loads(out)[0]
            with tarfile.open(Path(tmp) / info["filename"]) as tar:
                tar.extractall(Path(tmp) / name, filter="data")
            root = Path(tmp) / name / "package"
            meta = json.loads((root / "package.json").read_text())
            entry = {"version": version, "license": meta.get("license"), "integrity": info.get("integrity"),
                     "files": {}}
            for src, dest in files.items():
                text = (root / src).read_text()
                # the source maps are not shipped: drop the comment pointing at them
                text = "\n".join(line for line in text.splitlines() if not line.startswith("//# sourceMappingURL"))
                (VENDOR / dest).write_text(text + "\n")
                entry["files"][dest] = _sha256(VENDOR / dest)
            shutil.copy(root / licence, VENDOR / f"LICENSE.{name}")
            record["packages"][name] = entry
    (VENDOR / "VENDOR.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def check() -> list[str]:
    """Differences between the vendored files and ``VENDOR.json`` (empty when they agree)."""
    record = json.loads((VENDOR / "VENDOR.json").read_text())
    problems = []
    for name, entry in record["packages"].items():
        if entry["version"] != PACKAGES[name][0]:
            problems.append(f"{name}: VENDOR.json has {entry['version']}, this script pins {PACKAGES[name][0]}")
        for dest, digest in entry["files"].items():
            if not (VENDOR / dest).exists() or _sha256(VENDOR / dest) != digest:
                problems.append(f"{dest}: missing or changed since it was vendored; rerun scripts/vendor_ui.py")
        if not (VENDOR / f"LICENSE.{name}").exists():
            problems.append(f"LICENSE.{name} is missing")
    return problems


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="verify the committed files, fetch nothing")
    if parser.parse_args().check:
        issues = check()
        print("\n".join(issues) or "vendored UI libraries match VENDOR.json")
        sys.exit(1 if issues else 0)
    print(json.dumps(fetch(), indent=2))
