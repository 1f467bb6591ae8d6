"""Executor overhead on a real model: 20 ``diffusers:tiny`` images through an order vs a plain loop.

Both sides run the same pipeline code on the same parameter sets (the tiny model's defaults:
64×64, 4 steps, guidance 7.5, DPM++ 2M, one image per call, seeds 1..20):

- plain loop: the pipeline loaded by the provider's own code (``DiffusersProvider.pipeline``),
  called once per seed, each PIL image encoded to PNG bytes;
- order: ``studio.order("diffusers:tiny", prompt="bench", seed="[1..20]", num_inference_steps=4)``
  then ``.wait()`` (validation, catalog rows, worker thread, PNG metadata, files, thumbnails).

Each measurement runs in a fresh process, after the pipeline is loaded and warmed up there (a
warm-up order of the same size on the executor side, so the batch shapes it runs (the executor
batches up to 8 generations into one pipeline call) are warm too); the two sides alternate, 3 times each. Target: order /
plain loop ≤ 1.15× (wall clock, medians). CPU seconds of the whole measured process (all
threads) are reported beside them.

Why separate processes: torch's CPU kernels run on OpenMP (libgomp), and every thread that
calls torch gets its own OpenMP team. Once two such threads are alive in a process (the main
thread of the plain loop and the executor's worker) there are more OpenMP threads than cores,
libgomp stops spin-waiting, and the tiny model's many short kernels get about 3× slower on both
sides. ``--same-process`` measures that way anyway, to show the effect.

    .venv/bin/python benchmarks/tiny_executor.py [REPEATS] [--same-process]
"""

from __future__ import annotations

import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEEDS = range(1, 21)
STEPS = 4
TARGET = 1.15
ORDER = {"prompt": "bench", "seed": f"[{SEEDS[0]}..{SEEDS[-1]}]", "num_inference_steps": STEPS}


def order_params(home: Path) -> list[dict]:
    """The validated parameter sets of the benchmark order, so the plain loop passes exactly these."""
    import imagen_nb as inb

    with inb.Studio(home) as studio:
        params = studio.expand("diffusers:tiny", **ORDER)
        factory = studio.providers["diffusers"].factory(studio.model("diffusers:tiny"))
        params = [factory.validate(p) for p in params]
    assert [p["seed"] for p in params] == list(SEEDS)
    return params


def plain_loop(provider, params: list[dict]) -> tuple[float, float]:
    """Wall and CPU seconds to make and PNG-encode one image per parameter set, as a script would."""
    import torch

    loaded = provider.pipeline(provider.model("tiny"))
    c0, t0 = time.process_time(), time.perf_counter()
    for p in params:
        loaded.use_scheduler(p["scheduler"])
        generator = torch.Generator(loaded.device).manual_seed(p["seed"])
        images = loaded.pipe(
            prompt=p["prompt"], negative_prompt=p["negative_prompt"], width=p["width"], height=p["height"],
            num_inference_steps=p["num_inference_steps"], guidance_scale=p["guidance_scale"],
            num_images_per_prompt=p["num_images_per_prompt"], generator=generator, output_type="pil",
        ).images
        for image in images:
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            assert buffer.getvalue()
    return time.perf_counter() - t0, time.process_time() - c0


def studio_order(studio) -> tuple[float, float, float]:
    """Seconds until order() returns, until wait() returns, and CPU seconds, for the 20 generations."""
    c0, t0 = time.process_time(), time.perf_counter()
    order = studio.order("diffusers:tiny", **ORDER)
    queued = time.perf_counter() - t0
    order.wait()
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert order.status == "fulfilled", order
    assert len(order.products) == len(SEEDS)
    return queued, total, cpu


def new_provider(home: Path):
    from imagen_nb.providers.base import ProviderContext
    from imagen_nb.providers.diffusers.provider import DiffusersProvider

    return DiffusersProvider(ProviderContext(home))


def child(side: str, home: Path, params_file: Path) -> None:
    """One measurement in this process, printed as JSON on the last line of stdout."""
    import torch

    if side == "plain":
        params = json.loads(params_file.read_text())
        provider = new_provider(home)
        plain_loop(provider, params[:2])  # load and warm up
        wall, cpu = plain_loop(provider, params)
        provider.close()
        result = {"wall": wall, "cpu": cpu}
    else:
        import imagen_nb as inb

        with inb.Studio(home) as studio:
            studio.order("diffusers:tiny", prompt="warm-up", seed="[101..120]", num_inference_steps=STEPS).wait()
            queued, wall, cpu = studio_order(studio)
        result = {"wall": wall, "cpu": cpu, "queued": queued}
    result["threads"] = torch.get_num_threads()
    print(json.dumps(result))


def separate_processes(home: Path, params: list[dict], repeats: int) -> dict[str, list[dict]]:
    params_file = home / "params.json"
    params_file.write_text(json.dumps(params))
    runs: dict[str, list[dict]] = {"plain": [], "order": []}
    for i in range(repeats):
        for side in ("plain", "order"):
            out = subprocess.run([sys.executable, __file__, "--child", side, str(home), str(params_file)],
                                 check=True, capture_output=True, text=True).stdout
            runs[side].append(json.loads(out.strip().splitlines()[-1]))
        log_run(i, runs)
    return runs


def same_process(home: Path, params: list[dict], repeats: int) -> dict[str, list[dict]]:
    import imagen_nb as inb
    import torch

    runs: dict[str, list[dict]] = {"plain": [], "order": []}
    with inb.Studio(home) as studio:
        provider = new_provider(home)
        plain_loop(provider, params[:2])
        studio.order("diffusers:tiny", prompt="warm-up", seed="[101..120]", num_inference_steps=STEPS).wait()
        for i in range(repeats):
            wall, cpu = plain_loop(provider, params)
            runs["plain"].append({"wall": wall, "cpu": cpu, "threads": torch.get_num_threads()})
            queued, wall, cpu = studio_order(studio)
            runs["order"].append({"wall": wall, "cpu": cpu, "queued": queued, "threads": torch.get_num_threads()})
            log_run(i, runs)
        provider.close()
    return runs


def log_run(i: int, runs: dict[str, list[dict]]) -> None:
    plain, order = runs["plain"][-1], runs["order"][-1]
    print(f"run {i + 1}: plain loop {plain['wall']:.2f} s ({plain['cpu']:.2f} s CPU), order {order['wall']:.2f} s "
          f"({order['cpu']:.2f} s CPU; order() returned after {order['queued'] * 1000:.0f} ms)", file=sys.stderr)


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    repeats = int(args[0]) if args else 3
    same = "--same-process" in sys.argv
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        params = order_params(home)
        shown = {k: v for k, v in params[0].items() if k != "seed"}
        print(f"params: {shown}, seeds {SEEDS[0]}..{SEEDS[-1]}; "
              f"{'one process' if same else 'a fresh process per measurement'}", file=sys.stderr)
        new_provider(home).tiny_path()  # build the tiny model once, outside any measurement
        runs = (same_process if same else separate_processes)(home, params, repeats)

    def median(side: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[side])

    n = len(SEEDS)
    plain, order, queued = median("plain", "wall"), median("order", "wall"), median("order", "queued")
    plain_cpu, order_cpu = median("plain", "cpu"), median("order", "cpu")
    ratio = order / plain
    threads = runs["order"][0]["threads"]
    print("| images | processes | torch threads | plain loop s | order() returns ms | order to wait() s "
          "| ms/image plain | ms/image order | ratio | target | CPU s plain | CPU s order | CPU ratio |")
    print("|---:|:---|---:|---:|---:|---:|---:|---:|---:|:---:|---:|---:|---:|")
    print(f"| {n} × 64² × {STEPS} steps | {'same' if same else 'separate'} | {threads} | {plain:.2f} "
          f"| {queued * 1000:.0f} | {order:.2f} | {plain / n * 1000:.0f} | {order / n * 1000:.0f} | {ratio:.2f}× "
          f"| {'met' if ratio <= TARGET else '**missed**'} (≤ {TARGET}×) "
          f"| {plain_cpu:.2f} | {order_cpu:.2f} | {order_cpu / plain_cpu:.2f}× |")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
    else:
        main()
