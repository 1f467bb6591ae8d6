"""The front end's own logic in node (no browser): request timeouts and the "kernel disconnected"
state of common.js, and derived texts of the Production store. See tests/ui/js/."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

JS = Path(__file__).with_name("js")


@pytest.mark.parametrize("script", sorted(p.name for p in JS.glob("*.test.mjs")))
def test_js(script):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the browser tests cover the same code paths more slowly")
    out = subprocess.run([node, str(JS / script)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr or out.stdout
