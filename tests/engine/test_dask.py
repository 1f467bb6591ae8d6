"""The Dask backend on real clusters of worker processes, on 127.0.0.1 only.

One cluster (``LocalCluster(processes=True, n_workers=2, host="127.0.0.1")``) serves the module;
the worker-kill test starts its own through ``Studio(executor="dask")``.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

import imagen_nb as inb
from imagen_nb.core.records import GenerationFinished, GenerationProgress, ModelLoaded

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes of one thread each, everything bound to 127.0.0.1."""
    with distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0") as cluster:
        yield cluster


@pytest.fixture(scope="module")
def client(cluster):
    with distributed.Client(cluster, set_as_default=False) as client:
        yield client


def max_diff(a, b) -> int:
    import numpy as np

    return int(np.abs(np.asarray(a.image, dtype=np.int16) - np.asarray(b.image, dtype=np.int16)).max())


@pytest.mark.slow
def test_an_order_spreads_over_both_workers_keeps_pipelines_warm_and_matches_threads(client, tmp_path):
    loads = []
    with inb.Studio(tmp_path / "dask", executor=client) as studio:
        studio.subscribe(lambda e: loads.append(e) if isinstance(e, ModelLoaded) else None)
        first = studio.order("diffusers:tiny", prompt="a cat", seed="[1..16]", num_inference_steps=2).wait(280)
        assert first.status == "fulfilled" and len(first.products) == 16
        returned = list(first.generations.return_params)
        assert {r["worker"] for r in returned} == {"0", "1"}, "both workers serve the order"
        assert all(r["host"] and r["gpu"] is None and r["batch_size"] > 1 for r in returned)
        assert 1 <= len(loads) <= 2  # at most one load per worker
        before = len(loads)
        second = studio.order("diffusers:tiny", prompt="a cat", seed="[1,2]", num_inference_steps=2).wait(120)
        assert second.status == "fulfilled"
        assert len(loads) == before, "the second order reloaded a pipeline on a worker"
        by_group = studio.sql("select return_params->>'worker' as worker, count(*) as n from generations "
                              "group by 1 order by 1")
        assert list(by_group.worker) == ["0", "1"] and by_group.n.sum() == 18
        # each generation records the worker process that ran it, and the order the process that placed it
        pids = set(studio.sql("select distinct pid from generations").pid)
        workers = set(client.run(os.getpid).values())
        assert pids == workers and os.getpid() not in pids
        assert set(studio.sql("select distinct ordered_by_pid as p from orders").p) == {os.getpid()}
        dask_products = first.products
    with inb.Studio(tmp_path / "threads") as studio:
        threads = studio.order("diffusers:tiny", prompt="a cat", seed="[1..16]", num_inference_steps=2).wait(280)
        for a, b in zip(threads.products, dask_products):
            assert (a.seed, a.prompt) == (b.seed, b.prompt)
            assert max_diff(a, b) <= 1, "the same seed gives the same pixels on both backends (1/255)"


def test_cancel_on_the_cluster_drops_queued_and_stops_running_within_a_step(client, tmp_path):
    steps: list[GenerationProgress] = []
    running = threading.Event()
    finished: dict[str, tuple[str, float]] = {}

    def on_event(e):
        if isinstance(e, GenerationProgress):
            steps.append(e)
            if e.step >= 2:
                running.set()
        elif isinstance(e, GenerationFinished):
            finished[e.generation_id] = (e.status, time.monotonic())

    with inb.Studio(tmp_path, executor=client) as studio:
        studio.subscribe(on_event)
        order = studio.order("instant:swatch", prompt="n [1..8]", num_inference_steps=40, step_seconds=0.2)
        assert running.wait(120), "no generation reported progress from the cluster"
        studio.recorder.flush()
        generating = list(order.generations.status).count("generating")
        assert 1 <= generating <= 2, "only what runs on the 2 workers is 'generating', not what waits for one"
        reached = {e.generation_id: e.step for e in list(steps)}
        cancelled_at = time.monotonic()
        dropped = studio.cancel(order)
        assert dropped >= 4, "generations still queued in the studio are cancelled at once"
        assert order.wait(60).status == "cancelled"
        assert set(order.generations.status) == {"cancelled"}
        for gid, step in reached.items():
            after = max(e.step for e in steps if e.generation_id == gid)
            assert after <= step + 3, f"{gid} ran {after - step} steps past the cancel"
            assert finished[gid][1] - cancelled_at < 5


def test_connect_to_a_running_scheduler_by_address(cluster, tmp_path):
    with inb.Studio(tmp_path, executor=cluster.scheduler_address) as studio:
        info = studio.cluster
        assert (info.workers, info.gpus, info.local) == (2, 0, False)
        assert info.scheduler == cluster.scheduler_address and info.dashboard_link.startswith("http://127.0.0.1:")
        from imagen_nb.ui.production import ProductionController

        panel = ProductionController(studio)
        try:  # the Production panel says what serves the studio
            shown = panel.rpc_init()["cluster"]
        finally:
            panel.close()
        assert shown == {"workers": 2, "gpus": 0, "dashboard": info.dashboard_link}
        order = studio.order("instant:swatch", prompt="[a,b,c,d]").wait(60)
        assert order.status == "fulfilled"
        assert all(r["worker_address"].startswith("tcp://127.0.0.1:") for r in order.generations.return_params)
    # leaving does not stop someone else's cluster
    assert len(cluster.scheduler_info["workers"]) == 2


def test_a_scheduler_that_is_not_there_is_named_with_how_to_start_one(tmp_path):
    with pytest.raises(inb.ImagenError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9.*dask scheduler"):
        inb.Studio(tmp_path, executor="tcp://127.0.0.1:9")
    with pytest.raises(ValueError, match="executor must be 'threads', 'dask'"):
        inb.Studio(tmp_path, executor="dusk")
    with pytest.raises(ValueError, match="workers= sets the size of a local Dask cluster; pass executor='dask'"):
        inb.Studio(tmp_path, workers=2)
    inb.Studio(tmp_path).close()  # the failed opens released the home


@pytest.mark.slow
def test_a_gpu_model_never_lands_on_a_cpu_worker(client, tmp_path):
    with inb.Studio(tmp_path, executor=client, providers={"diffusers": {"device": "cuda"}}) as studio:
        order = studio.order("diffusers:tiny", prompt="a cat", num_inference_steps=2).wait(60)
        assert order.status == "failed"
        assert "no worker of the Dask cluster offers a GPU" in order.errors.error_message[0]


def test_a_worker_killed_mid_order_loses_nothing_and_records_nothing_twice(tmp_path):
    progress = threading.Event()
    with inb.Studio(tmp_path, executor="dask", workers=2) as studio:
        info = studio.cluster
        assert (info.workers, info.local) == (2, True) and info.scheduler.startswith("tcp://127.0.0.1:")
        studio.subscribe(lambda e: progress.set() if isinstance(e, GenerationProgress) else None)
        order = studio.order("instant:swatch", prompt="k [1..12]", num_inference_steps=5, step_seconds=0.1)
        assert progress.wait(120)
        pids = studio.executor.client.run(os.getpid)
        os.kill(next(iter(pids.values())), signal.SIGKILL)
        assert order.wait(240).status == "fulfilled"
        gens = order.generations
        assert list(gens.status) == ["complete"] * 12
        products = studio.sql("select generation_id, path from products")
        assert sorted(products.generation_id) == sorted(gens.id), "one product per generation, none twice"
        files = [p for p in (tmp_path / "products").rglob("*.png")]
        assert len(files) == 12 and {f.name for f in files} == {os.path.basename(p) for p in products.path}
    # the studio started that cluster: closing the studio stopped it
    with pytest.raises(OSError):
        distributed.Client(info.scheduler, timeout="2s")


def test_a_generation_whose_workers_keep_dying_ends_failed_with_the_reason(tmp_path):
    import dask

    progress = threading.Event()
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        studio = inb.Studio(tmp_path, executor="dask", workers=1)
    with studio:
        studio.subscribe(lambda e: progress.set() if isinstance(e, GenerationProgress) else None)
        order = studio.order("instant:swatch", prompt="doomed", num_inference_steps=50, step_seconds=0.1)
        assert progress.wait(120)
        for pid in studio.executor.client.run(os.getpid).values():
            os.kill(pid, signal.SIGKILL)
        assert order.wait(120).status == "failed"
        error = order.errors.iloc[0]
        assert error.error_type == "KilledWorker" and "workers running this generation died 1 times" in error.error_message
        assert studio.sql("select count(*) as n from products").n[0] == 0


def test_input_files_travel_as_bytes_to_workers_that_do_not_see_them(tmp_path):
    """A worker on another machine gets the studio's input files (image-to-image) as bytes."""
    from imagen_nb.core.records import GenerationRequest
    from imagen_nb.engine.cluster.executor import input_files
    from imagen_nb.engine.cluster.worker import Task, with_local_files
    from imagen_nb.engine.executor import Job
    from imagen_nb.providers.instant import InstantProvider

    image = tmp_path / "studio" / "in.png"
    image.parent.mkdir()
    image.write_bytes(b"\x89PNG fake")
    spec = {"properties": {"image": {"type": "string", "format": "uri"}, "prompt": {"type": "string"}}}
    from imagen_nb.core.records import ModelInfo

    model = ModelInfo("instant", "swatch", "image-to-image", "swatch", spec)
    jobs = [Job("o", f"g{i}", i, model, None, {"image": str(image), "prompt": "p"}, None) for i in range(2)]
    files = input_files(model, jobs)
    assert files == {str(image): b"\x89PNG fake"}
    task = Task(InstantProvider, {}, str(tmp_path), "swatch",
                tuple(GenerationRequest(j.generation_id, "o", model.id, j.params) for j in jobs), "t", "c-", files)
    assert with_local_files(task, tmp_path / "worker")[0].params["image"] == str(image)  # seen: kept
    image.unlink()  # as on another machine
    copies = with_local_files(task, tmp_path / "worker")
    local = copies[0].params["image"]
    assert local != str(image) and open(local, "rb").read() == b"\x89PNG fake" and copies[1].params["image"] == local
    assert copies[0].params["prompt"] == "p"


@pytest.mark.slow
def test_upscales_and_hires_fix_run_on_the_cluster_workers(client, tmp_path):
    """Upscale orders (the tiny ESRGAN, an SR weight file in the model folder, the tiny x4 diffusers
    upscaler) and a hires-fix order run on the workers: right sizes, recorded parameters, worker pids."""
    import shutil

    from PIL import Image

    from imagen_nb.providers.diffusers.tiny import ensure_tiny_esrgan

    home = tmp_path / "dask-upscale"
    source = tmp_path / "small.png"
    Image.new("RGB", (24, 16), (200, 120, 40)).save(source)
    with inb.Studio(home, executor=client, providers={"diffusers": {"device": "cpu"}}) as studio:
        (models := home / "models").mkdir(exist_ok=True)
        shutil.copy(ensure_tiny_esrgan(tmp_path / "cache"), models / "4x-Mine.safetensors")
        (product,) = studio.import_products([source])
        esrgan = product.upscale(scale=2, model="diffusers:tiny-esrgan").wait(180)
        mine = studio.upscale(product, scale=4, model="diffusers:4x-Mine", tile_size=8, tile_overlap=2).wait(180)
        x4 = product.upscale(scale=4, model="diffusers:tiny-upscaler", seed=5).wait(300)
        hires = studio.order("diffusers:tiny", prompt="a cat", seed=3, num_inference_steps=4, hires_scale=2,
                             hires_upscaler="tiny-esrgan", hires_strength=0.5).wait(300)
        orders = {"esrgan": esrgan, "mine": mine, "x4": x4, "hires": hires}
        assert {k: o.status for k, o in orders.items()} == dict.fromkeys(orders, "fulfilled"), \
            {k: o.errors for k, o in orders.items()}
        sizes = {k: (o.products[0].width, o.products[0].height) for k, o in orders.items()}
        assert sizes == {"esrgan": (48, 32), "mine": (96, 64), "x4": (96, 64), "hires": (128, 128)}
        returned = {k: o.generations.return_params[0] for k, o in orders.items()}
        assert returned["esrgan"]["architecture"] == "RRDBNet" and returned["esrgan"]["output_size"] == [48, 32]
        assert returned["mine"]["tiles"] > 1 and returned["mine"]["model_factor"] == 4
        assert returned["hires"]["hires"]["upscaler"] == "diffusers:tiny-esrgan"
        assert returned["hires"]["hires"]["base_size"] == [64, 64] and returned["hires"]["hires"]["size"] == [128, 128]
        assert all(r["worker"] in ("0", "1") for r in returned.values()), "each ran on a worker"
        assert esrgan.generations.params[0]["image"] == product.id       # the product id, not a worker's path
        actual = hires.generations.actual_params[0]
        assert (actual["hires_scale"], actual["hires_upscaler"], actual["hires_strength"]) == (2, "tiny-esrgan", 0.5)
        assert x4.generations.actual_params[0]["seed"] == 5
        pids = set(studio.sql("select distinct pid from generations").pid)
        assert pids <= set(client.run(os.getpid).values()) and os.getpid() not in pids


def test_a_worker_that_does_not_see_the_home_says_where_the_model_files_are(tmp_path):
    """Model-folder weights (SR files, checkpoints, LoRAs) are read from the studio's home: a worker on
    another machine that lacks it names the fix instead of a bare unknown model."""
    from imagen_nb.core.errors import UnknownModelError
    from imagen_nb.engine.cluster.worker import Task, task_model
    from imagen_nb.providers.base import ProviderContext
    from imagen_nb.providers.diffusers import DiffusersProvider

    provider = DiffusersProvider(ProviderContext(home=tmp_path / "worker-own", settings={"device": "cpu"}))
    elsewhere = Task(DiffusersProvider, {}, str(tmp_path / "not-on-this-machine"), "4x-Mine", (), "t", "c-")
    with pytest.raises(UnknownModelError) as err:
        task_model(provider, elsewhere, "worker 0 on hostB")
    assert "does not see the studio's home" in str(err.value) and "shared file system" in str(err.value)
    assert "worker 0 on hostB" in str(err.value)
    here = Task(DiffusersProvider, {}, str(tmp_path), "4x-Mine", (), "t", "c-")
    with pytest.raises(UnknownModelError) as err:  # the home is seen: the model is just not there
        task_model(provider, here, "worker 0")
    assert "does not see" not in str(err.value)
