"""Starting a local Dask cluster or joining one that runs already; what it offers."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from ...core.errors import ImagenError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClusterInfo:
    """What serves a studio's generations on Dask, as of when it was asked (``Studio.cluster``)."""

    scheduler: str
    dashboard_link: str | None
    workers: int
    threads: int
    gpus: int
    local: bool  #: True when the studio started the cluster (and stops it on close)

    def _repr_html_(self) -> str:
        link = (f'<a href="{self.dashboard_link}" target="_blank">dashboard</a>' if self.dashboard_link
                else "no dashboard (install bokeh)")
        return (f"Dask cluster at <code>{self.scheduler}</code>: {self.workers} workers, "
                f"{self.gpus} GPUs, {link}")


def connect(spec: Any, workers: int | None = None) -> tuple[Any, Any]:
    """A ``distributed.Client`` for ``spec`` and the cluster this call started (None when joined).

    ``spec``: ``"dask"`` starts a local cluster on 127.0.0.1; an address (``tcp://host:8786``)
    joins a running scheduler; a ``distributed.Client`` is used as it is.
    """
    try:
        from distributed import Client
    except ImportError as exc:
        raise ImagenError("executor='dask' needs Dask: pip install 'imagen-nb[dask]'") from exc
    if isinstance(spec, Client):
        return spec, None
    if spec == "dask":
        cluster = local_cluster(workers)
        try:
            return Client(cluster, set_as_default=False), cluster
        except BaseException:
            cluster.close()
            raise
    try:
        return Client(spec, set_as_default=False, timeout="10s"), None
    except (OSError, TimeoutError) as exc:
        raise ImagenError(f"cannot reach the Dask scheduler at {spec}: {exc}. Start one "
                          "(`dask scheduler --host 127.0.0.1` and `dask worker <address>`), check the "
                          "address, or pass executor='dask' for a cluster on this machine") from exc


def local_cluster(workers: int | None = None) -> Any:
    """A cluster on this machine, bound to 127.0.0.1: one worker per GPU (dask-cuda's
    ``LocalCUDACluster``, each worker with resource ``GPU=1``) when dask-cuda is installed and
    GPUs are present, else ``workers`` CPU worker processes (default: CPUs, at most 4)."""
    from distributed import LocalCluster

    if workers is not None and workers < 1:
        raise ValueError(f"workers must be 1 or more, not {workers}")
    common = {"threads_per_worker": 1, "host": "127.0.0.1", "dashboard_address": "127.0.0.1:0"}
    gpus = _gpu_count()
    if gpus:
        from dask_cuda import LocalCUDACluster  # _gpu_count found it

        return LocalCUDACluster(n_workers=workers or gpus, resources={"GPU": 1}, **common)
    n = workers or max(1, min(4, os.cpu_count() or 1))
    return LocalCluster(n_workers=n, processes=True, **common)


def _gpu_count() -> int:
    """GPUs dask-cuda can use (0 without dask-cuda)."""
    try:
        from dask_cuda.utils import get_n_gpus
    except ImportError:
        return 0
    try:
        return int(get_n_gpus())
    except Exception:  # no driver
        return 0


def describe(client: Any, local: bool) -> ClusterInfo:
    """The cluster behind ``client`` now: its workers, threads, GPUs and dashboard link."""
    info = client.scheduler_info(n_workers=-1) if _takes_n_workers(client) else client.scheduler_info()
    workers = info.get("workers", {})
    try:
        link = client.dashboard_link
    except Exception:  # no dashboard (bokeh missing)
        link = None
    return ClusterInfo(scheduler=str(client.scheduler.address), dashboard_link=link, workers=len(workers),
                       threads=sum(int(w.get("nthreads", 1)) for w in workers.values()),
                       gpus=sum(int((w.get("resources") or {}).get("GPU", 0)) for w in workers.values()),
                       local=local)


def _takes_n_workers(client: Any) -> bool:
    import inspect

    return "n_workers" in inspect.signature(client.scheduler_info).parameters
