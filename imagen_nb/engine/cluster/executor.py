"""The studio's side of the Dask backend: lanes whose batches run on the cluster's workers.

Queues, batching, cancellation of queued generations and every status change stay in the
studio (the same :class:`~..executor.Lane` and :class:`~..state.States` as the thread backend);
a lane's dispatch threads, one or two per worker slot, hand each batch to the cluster as one
task and write the products that come back. Remote providers (fal, Replicate) keep their
threads in the studio: their work is waiting on HTTP, not computing.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import datetime
from typing import Any, Mapping

from ...core.ids import new_id
from ...core.records import GenerationProgress, GenerationRequest, GenerationResult, ModelInfo
from ...providers.base import Provider
from ...store import ProductStore
from ..bus import EventBus
from ..executor import Executor, Job, Lane
from ..space import DiskSpace
from ..state import FINAL, States
from . import worker as remote
from .connect import ClusterInfo, connect, describe

log = logging.getLogger(__name__)

#: providers that compute in the process that calls them (besides ``execution = "local"`` ones)
IN_PROCESS = frozenset({"instant"})
#: how long the count of the cluster's GPUs is trusted (workers come and go)
GPU_RECHECK_SECONDS = 5.0


class WorkerError(Exception):
    """A generation that failed on a worker: carries the worker's error type and traceback."""

    def __init__(self, error_type: str, message: str, traceback: str):
        super().__init__(message)
        self.error_type = error_type
        self.traceback_text = traceback


class DaskExecutor(Executor):
    """Runs generations of in-process providers on a Dask cluster, the others on threads.

    Args:
        cluster: ``"dask"`` (start a local cluster), a scheduler address, or a ``distributed.Client``.
        workers: worker processes of a local cluster.
        dispatch_per_slot: batches kept in flight per worker thread of the cluster (2: the next
            batch is ready on the worker while the studio writes the last one's products).
    """

    backend = "dask"

    def __init__(self, store: ProductStore, states: States, bus: EventBus, *, cluster: Any = "dask",
                 workers: int | None = None, batch_limit: int = 8, dispatch_per_slot: int = 2,
                 space: DiskSpace | None = None):
        super().__init__(store, states, bus, batch_limit=batch_limit, space=space)
        self.client, self._local_cluster = connect(cluster, workers)
        self._owns_client = not _is_client(cluster)
        self.dispatch_per_slot = dispatch_per_slot
        self._topic = f"imagen-nb-{new_id()}"
        self._cancel_prefix = f"imagen-nb-cancel-{new_id()}-"
        self._running: dict[str, str] = {}  # generation id -> order id, of batches on the cluster
        self._flagged: set[str] = set()  # generation ids whose cancel flag is set on the scheduler
        self._running_lock = threading.Lock()
        self._gpu_count: tuple[int, float] | None = None
        self.client.subscribe_topic(self._topic, self._on_worker_message)

    # -- lanes ---------------------------------------------------------------------------------
    def _lane(self, provider: Provider, model: ModelInfo) -> Lane:
        if not on_cluster(provider):
            return super()._lane(provider, model)
        name = f"dask:{provider.lane(model)}"
        with self._lock:
            lane = self._lanes.get(name)
            if lane is None:
                lane = self._lanes[name] = Lane(self, name, self._slots() * self.dispatch_per_slot)
                lane.call = lambda live, provider=provider: self._call_on_cluster(provider, live)
            return lane

    def _slots(self) -> int:
        info = describe(self.client, self._local_cluster is not None)
        return max(1, info.threads)

    def _call_on_cluster(self, provider: Provider, live: list[Job]) -> list[GenerationResult | BaseException]:
        from distributed import KilledWorker

        resources = self._resources(provider)
        task = remote.Task(type(provider), _settings_dict(provider.context.settings), str(provider.context.home),
                           live[0].model.name,
                           tuple(GenerationRequest(j.generation_id, j.order_id, j.model.id, j.params) for j in live),
                           self._topic, self._cancel_prefix, input_files(live[0].model, live))
        with self._running_lock:
            self._running.update({j.generation_id: j.order_id for j in live})
        try:
            for job in live:  # cancelled between being taken and being registered above
                if self.states.is_cancelled(job.order_id, job.generation_id) or self._stopping.is_set():
                    self._flag(job.generation_id)
            future = self.client.submit(remote.run_task, task, pure=False, resources=resources,
                                        key=f"imagen-nb-{live[0].model.id}-{live[0].generation_id}-{new_id()}")
            try:
                results = future.result()
            except KilledWorker as exc:
                times = int(getattr(exc, "allowed_failures", 0)) + 1
                last = getattr(getattr(exc, "last_worker", None), "address", "?")
                return [WorkerError("KilledWorker", f"the Dask workers running this generation died {times} "
                                    f"times (the last was {last}), so the scheduler will not run it again "
                                    "(setting distributed.scheduler.allowed-failures). See the workers' logs "
                                    "for why they died, then retry the order", "")] * len(live)
        finally:
            with self._running_lock:
                for job in live:
                    self._running.pop(job.generation_id, None)
            self._unflag([j.generation_id for j in live])
        return [WorkerError(r.error_type, r.message, r.traceback) if isinstance(r, remote.Failure) else r
                for r in results]

    def _resources(self, provider: Provider) -> dict[str, int] | None:
        """``GPU=1`` for a local model that runs on a GPU, so that it never lands on a CPU worker."""
        device = str(provider.context.settings.get("device", "auto"))
        if provider.execution != "local" or device == "cpu" or device == "mps":
            return None
        if self._gpus():
            return {"GPU": 1}
        if device.startswith("cuda"):
            raise RuntimeError(f"{provider.name} is set to run on {device!r}, but no worker of the Dask cluster "
                               "offers a GPU (resource GPU=1). Start GPU workers with dask-cuda "
                               "(`dask cuda worker <scheduler>`) or `dask worker --resources GPU=1`, or set "
                               f"providers={{'{provider.name}': {{'device': 'cpu'}}}}")
        return None

    def _gpus(self) -> int:
        """GPUs the cluster's workers offer, asked of the scheduler at most every few seconds."""
        now = time.monotonic()
        if self._gpu_count is None or now - self._gpu_count[1] > GPU_RECHECK_SECONDS:
            self._gpu_count = (describe(self.client, self._local_cluster is not None).gpus, now)
        return self._gpu_count[0]

    def _claim(self, job: Job, now: datetime) -> bool:
        """A batch sent to the cluster may wait there for a free worker: its generations start
        (status ``generating``) when the worker says so, not when they are sent."""
        return self.states.status(job.generation_id) not in FINAL

    # -- cancelling ----------------------------------------------------------------------------
    def _signal_cancel(self, match) -> None:
        """Set the cancel flag of every running generation that ``match``es a job of it."""
        with self._running_lock:
            running = dict(self._running)
        for gid, order_id in running.items():
            probe = Job(order_id, gid, 0, None, None, {}, None)  # type: ignore[arg-type]
            if match(probe):
                self._flag(gid)

    def _flag(self, generation_id: str) -> None:
        from distributed import Event as Flag

        with self._running_lock:
            if generation_id in self._flagged:
                return
            self._flagged.add(generation_id)
        Flag(self._cancel_prefix + generation_id, client=self.client).set()

    def _unflag(self, generation_ids: list[str]) -> None:
        from distributed import Event as Flag

        with self._running_lock:
            flagged = [g for g in generation_ids if g in self._flagged]
            self._flagged.difference_update(flagged)
        for gid in flagged:  # a cleared flag nobody waits on is dropped by the scheduler
            try:
                Flag(self._cancel_prefix + gid, client=self.client).clear()
            except Exception:
                log.debug("clearing the cancel flag of %s failed", gid, exc_info=True)

    # -- messages from workers -----------------------------------------------------------------
    def _on_worker_message(self, event: tuple[float, Any]) -> None:
        _, msg = event
        try:
            if msg.get("kind") == "started":  # refused (False) when the outcome came first
                pid = msg.get("pid")
                self.states.start(msg["order_id"], msg["generation_id"], pid=pid if isinstance(pid, int) else None)
            elif msg.get("kind") == "progress":
                self.bus.publish(GenerationProgress(order_id=msg["order_id"], generation_id=msg["generation_id"],
                                                    step=int(msg["step"]), total=int(msg["total"])))
            elif msg.get("kind") == "event":
                from ...core import records

                cls = getattr(records, str(msg.get("type")), None)
                if isinstance(cls, type) and issubclass(cls, records.Event):
                    self.publish(cls(**msg["fields"]))
        except Exception:  # a malformed message must not stop the client's event loop
            log.exception("a message from a Dask worker could not be read: %r", msg)

    # -- the cluster ---------------------------------------------------------------------------
    @property
    def cluster(self) -> ClusterInfo:
        """The cluster's workers, threads, GPUs and dashboard link, as of now."""
        return describe(self.client, self._local_cluster is not None)

    def close(self, timeout: float = 30) -> None:
        """Stop taking jobs, stop running generations at their next step (they are resumed by the
        next Studio on this home), then leave the cluster (and stop it when this studio started it)."""
        self._stopping.set()
        with self._running_lock:
            running = list(self._running)
        for gid in running:
            try:
                self._flag(gid)
            except Exception:
                log.debug("flagging %s on close failed", gid, exc_info=True)
        super().close(timeout)
        try:
            self.client.unsubscribe_topic(self._topic)
        except Exception:
            pass
        if self._owns_client:
            self.client.close()
        if self._local_cluster is not None:
            self._local_cluster.close()


def input_files(model: ModelInfo, jobs: list[Job], limit: int = 64 * 2**20) -> dict[str, bytes]:
    """The files named by the jobs' file inputs (spec properties with ``format: uri`` or an
    ``x-*-file`` flag) that exist here, as bytes for workers that do not see this file system."""
    props = model.spec.get("properties", {}) if isinstance(model.spec, Mapping) else {}
    inputs = [name for name, prop in props.items() if isinstance(prop, Mapping) and (
        prop.get("format") == "uri" or any(k.startswith("x-") and k.endswith("-file") and v for k, v in prop.items()))]
    files: dict[str, bytes] = {}
    for job in jobs:
        for name in inputs:
            value = job.params.get(name)
            if isinstance(value, str) and value not in files and "://" not in value and os.path.isfile(value):
                if os.path.getsize(value) > limit:
                    continue  # too big to ship: the worker must see the path
                with open(value, "rb") as f:
                    files[value] = f.read()
    return files


def _settings_dict(settings: Any) -> dict[str, Any]:
    """A provider's settings as a plain dict for the worker (typed ProviderSettings, or a mapping)."""
    import dataclasses

    if dataclasses.is_dataclass(settings) and not isinstance(settings, type):
        return {k: v for k, v in dataclasses.asdict(settings).items() if v is not None}
    return dict(settings)


def on_cluster(provider: Provider) -> bool:
    """True for providers whose work computes in the calling process (they go to the workers)."""
    return provider.execution == "local" or provider.name in IN_PROCESS


def _is_client(spec: Any) -> bool:
    try:
        from distributed import Client
    except ImportError:
        return False
    return isinstance(spec, Client)
