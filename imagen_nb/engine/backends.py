"""Choosing the executor backend: threads in this process (default) or a Dask cluster."""

from __future__ import annotations

from typing import Any

from ..store import ProductStore
from .bus import EventBus
from .executor import Executor
from .space import DiskSpace
from .state import States


def make_executor(spec: Any, store: ProductStore, states: States, bus: EventBus, *,
                  workers: int | None = None, space: DiskSpace | None = None) -> Executor:
    """The executor ``spec`` names: ``"threads"``, ``"dask"``, a scheduler address or a
    ``distributed.Client`` (see :class:`~imagen_nb.studio.Studio`'s ``executor``)."""
    if spec is None or spec == "threads":
        if workers is not None:
            raise ValueError("workers= sets the size of a local Dask cluster; "
                             "pass executor='dask' with it, or leave it out")
        return Executor(store, states, bus, space=space)
    if isinstance(spec, str) and spec != "dask" and "://" not in spec:
        raise ValueError(f"executor must be 'threads', 'dask', a scheduler address such as "
                         f"'tcp://127.0.0.1:8786' or a distributed.Client, not {spec!r}")
    if workers is not None and spec != "dask":
        raise ValueError("workers= sizes the local cluster of executor='dask'; an existing "
                         "cluster is sized by whoever runs it")
    from .cluster.executor import DaskExecutor  # imports distributed: only when asked for

    return DaskExecutor(store, states, bus, cluster=spec, workers=workers, space=space)
