"""The Studio widget during a 1,000-generation order: messages to the page and the kernel's idle share.

A real IPython kernel (jupyter_client) shows the Studio widget, then places a 1,000-generation
order on ``instant:swatch`` with simulated steps (so every generation reports progress). While
the order runs, this script keeps executing a tiny cell and measures the round trip. Reported:
messages and bytes the widget sent to the front end per second, the kernel main thread's CPU
share (idle share = 1 − that) from the order's start to its end, and the round-trip latency of
a cell run meanwhile. Target: ≤ 10 panel updates per second whatever the order's rate.

    .venv/bin/python benchmarks/ui_production.py [N] [STEPS] [STEP_SECONDS]
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time

from jupyter_client.manager import start_new_kernel

SETUP = r"""
import json, time, threading
import imagen_nb as inb
from IPython import get_ipython
studio = inb.Studio({home!r}, providers={{"instant": {{"concurrency": 4}}}})
widget = studio.widget()
display(widget)
counts = {{"messages": 0, "bytes": 0, "panels": {{}}}}
_send = widget.send
def _counting(content, buffers=None):
    counts["messages"] += 1
    counts["panels"][content.get("panel")] = counts["panels"].get(content.get("panel"), 0) + 1
    counts["bytes"] += len(json.dumps(content)) + sum(len(b) for b in buffers or [])
    _send(content, buffers)
widget.send = _counting
loop = get_ipython().kernel.io_loop
marks = {{}}
def _mark(name):
    marks[name] = (time.perf_counter(), time.thread_time())   # on the kernel's main (IO loop) thread
def _on_event(event):
    if type(event).__name__ == "OrderFinished":
        loop.add_callback(_mark, "end")
studio.subscribe(_on_event)
"""

START = r"""
_mark("start")
order = studio.order("instant:swatch", prompt="bench", seed="[1..{n}]", num_inference_steps={steps},
                     step_seconds={step_seconds})
"""

REPORT = r"""
order.wait()
time.sleep(0.3)
wall = marks["end"][0] - marks["start"][0]
cpu = marks["end"][1] - marks["start"][1]
print(json.dumps({"wall": wall, "cpu": cpu, "messages": counts["messages"], "bytes": counts["bytes"],
                  "panels": counts["panels"], "status": order.status}))
studio.close()
"""


def run(client, code: str, timeout: float = 600) -> str:
    msg_id = client.execute(code)
    out = []
    while True:
        msg = client.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            raise RuntimeError("\n".join(msg["content"]["traceback"]))
        elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return "".join(out)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    step_seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 0.005
    home = tempfile.mkdtemp(prefix="inb-bench-ui-")
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        run(client, SETUP.format(home=home))
        run(client, START.format(n=n, steps=steps, step_seconds=step_seconds))
        latencies = []
        while True:
            t = time.perf_counter()
            done = run(client, "print(order.done)").strip() == "True"
            latencies.append(time.perf_counter() - t)
            if done:
                break
            time.sleep(0.2)
        result = json.loads(run(client, REPORT).strip().splitlines()[-1])
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    wall = result["wall"]
    print(f"{n} generations × {steps} steps on instant:swatch, concurrency 4: {result['status']} in {wall:.2f} s "
          f"({n / wall:.0f} generations/s)")
    print(f"widget → front end: {result['messages']} messages ({result['messages'] / wall:.1f}/s), "
          f"{result['bytes'] / 1024:.0f} KiB ({result['bytes'] / 1024 / wall:.0f} KiB/s); per panel: "
          + ", ".join(f"{k} {v / wall:.1f}/s" for k, v in sorted(result["panels"].items())))
    print(f"kernel main thread busy {result['cpu'] / wall:.0%} → idle share {1 - result['cpu'] / wall:.0%}")
    print(f"a cell run meanwhile: median {statistics.median(latencies) * 1000:.0f} ms, "
          f"max {max(latencies) * 1000:.0f} ms over {len(latencies)} runs")


if __name__ == "__main__":
    main()
