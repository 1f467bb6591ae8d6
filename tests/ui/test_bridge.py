"""The message protocol every panel uses: replies, errors at the field, throttled pushes."""

from __future__ import annotations

import re
import threading
import time

import pytest

from imagen_nb.core.errors import SmartParameterError, ValidationError
from imagen_nb.ui import assets
from imagen_nb.ui.bridge import Controller, PanelRequestError, Reply, Throttle, error_payload


class Echo(Controller):
    name = "echo"

    def rpc_add(self, a, b):
        return {"sum": a + b}

    def rpc_image(self, buffers=()):
        reply = Reply({"received": [len(b) for b in buffers]})
        reply.add(b"\x89PNG...")
        return reply

    def rpc_smart(self):
        raise SmartParameterError("prompt", 7, "unclosed bracket")

    def rpc_broken(self):
        raise RuntimeError("disk on fire")


def test_replies_carry_results_and_buffers(studio, page):
    p = page(Echo(studio))
    assert p.call("add", a=2, b=3) == {"sum": 5}
    result, bufs = p.call_with_buffers("image")
    assert result == {"received": []} and bufs == [b"\x89PNG..."]
    assert p.call("image", buffers=[b"abc", b"de"]) == {"received": [3, 2]}


def test_errors_come_back_as_replies_naming_the_field(studio, page):
    p = page(Echo(studio))
    assert p.error("smart") == {"type": "SmartParameterError", "message": "parameter 'prompt', column 7: unclosed bracket",
                                "field": "prompt", "column": 7}
    assert p.error("nope")["message"].startswith("the echo panel has no request 'nope'")
    assert p.error("add", a=1)["type"] == "TypeError"          # a missing argument
    assert p.error("broken") == {"type": "RuntimeError", "message": "disk on fire", "field": None, "column": None}


def test_error_payloads_of_the_common_errors():
    assert error_payload(ValidationError("seed", "must be ≥ 0"))["field"] == "seed"
    assert error_payload(ValidationError("seed", "must be ≥ 0"))["message"] == "must be ≥ 0"
    assert error_payload(PanelRequestError("pick a model", field="model"))["field"] == "model"
    assert error_payload(KeyError("no token 'x'"))["message"] == "no token 'x'"


def test_throttle_merges_pokes_into_at_most_one_call_per_interval():
    calls = []
    throttle = Throttle(lambda: calls.append(time.monotonic()), lambda fn: fn(), interval=0.05)
    stop = time.monotonic() + 0.5
    pokers = [threading.Thread(target=lambda: [throttle.poke() or time.sleep(0.0005)
                                                for _ in iter(lambda: time.monotonic() < stop, False)])
              for _ in range(4)]
    for t in pokers:
        t.start()
    for t in pokers:
        t.join()
    time.sleep(0.1)
    assert 5 <= len(calls) <= 12  # ~0.5 s / 0.05 s, whatever thousands of pokes arrived
    gaps = [b - a for a, b in zip(calls, calls[1:])]
    assert min(gaps) >= 0.045
    last = len(calls)
    throttle.poke()  # a poke after a quiet spell runs at once
    assert len(calls) == last + 1
    throttle.close()
    time.sleep(0.06)
    throttle.poke()
    time.sleep(0.06)
    assert len(calls) == last + 1


@pytest.mark.parametrize("entry", [*assets.PANELS, "studio"])
@pytest.mark.parametrize("host", ["anywidget", "panel"])
def test_every_module_is_self_contained(entry, host):
    code = assets.esm(entry, host)
    # Nothing is fetched by the page: no imports at all, no URL of another host.
    assert not re.search(r"^\s*import\s", code, re.M)
    # (preact names the SVG, MathML and XHTML namespaces: identifiers, never fetched)
    assert not re.search(r"https?://(?!127\.0\.0\.1|www\.w3\.org/(2000/svg|1998/Math/MathML|1999/xhtml)\b)", code)
    assert "export default" in code if host == "anywidget" else "export function render" in code
    assert f"INB.panels.{entry} =" in code
    assert "https://" not in assets.css(entry)


def test_vendored_view_library_matches_its_record_and_ships_licences():
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "vendor_ui.py"
    spec = importlib.util.spec_from_file_location("vendor_ui", script)
    vendor_ui = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(vendor_ui)
    assert vendor_ui.check() == []
    record = (assets.STATIC / "vendor" / "VENDOR.json").read_text()
    assert '"preact"' in record and '"MIT"' in record and '"Apache-2.0"' in record


def test_linker_orders_modules_and_refuses_what_it_cannot_link(tmp_path):
    from imagen_nb.ui.linker import LinkError, link

    (tmp_path / "a.js").write_text('import { b as c } from "./b.js";\nexport function a() { return c(); }\n')
    (tmp_path / "b.js").write_text("export const b = () => 2;\n")
    code = link(["a.js"], tmp_path)
    assert code.index("b.js") < code.index("a.js")          # dependencies first
    assert "export" not in code.replace("exports", "")
    (tmp_path / "c.js").write_text('import x from "lodash";\n')
    with pytest.raises(LinkError, match="lodash"):
        link(["c.js"], tmp_path)
    (tmp_path / "d.js").write_text('import { q } from "./missing.js";\n')
    with pytest.raises(LinkError, match="missing.js"):
        link(["d.js"], tmp_path)
