"""What runs on a Dask worker: a batch of one model's generations, with warm providers.

A task carries only what a worker needs (the provider's class and settings, the model's name,
the generation requests) and returns one result or :class:`Failure` per request, each result's
return parameter set naming the worker, host and GPU that made it. Workers never touch the
catalog or the product files: the studio writes both from what comes back.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import traceback as tb
import hashlib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from ...core.errors import GenerationCancelled, UnknownModelError
from ...core.records import Event, GenerationRequest, GenerationResult
from ...providers.base import Provider, ProviderContext

#: least time between two progress messages of one generation (the last step always goes)
PROGRESS_INTERVAL = 0.1

_providers: dict[tuple[str, str, str], Provider] = {}
_providers_lock = threading.Lock()


@dataclass(frozen=True)
class Task:
    """One batch of generations of one model for a worker."""

    provider_class: type
    settings: Mapping[str, Any]
    home: str
    model_name: str
    requests: tuple[GenerationRequest, ...]
    topic: str
    cancel_prefix: str
    #: input files the requests name (image-to-image…), path -> bytes: used where the worker
    #: does not see the path (another machine without a shared file system)
    files: Mapping[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class Failure:
    """A request that failed on the worker, as text (any exception class pickles this way)."""

    error_type: str
    message: str
    traceback: str


def run_task(task: Task) -> list[GenerationResult | GenerationCancelled | Failure]:
    """Run a task on the current Dask worker (the function the studio submits)."""
    from distributed import get_worker

    worker = get_worker()
    provider = warm_provider(task, worker.local_directory)
    model = task_model(provider, task, f"{worker.name} on {socket.gethostname()}")
    requests = with_local_files(task, Path(worker.local_directory) / "imagen-nb-inputs")
    for r in requests:  # the studio marks them generating now, not when they were sent
        worker.log_event(task.topic, {"kind": "started", "order_id": r.order_id, "generation_id": r.generation_id,
                                      "pid": os.getpid()})
    results = provider.factory(model).run(requests, _WorkerContext(worker, task))
    where = placement(worker, provider)
    out: list[GenerationResult | GenerationCancelled | Failure] = []
    for result in results:
        if isinstance(result, GenerationResult):
            out.append(replace(result, returned={**result.returned, **where}))
        elif isinstance(result, GenerationCancelled):
            out.append(GenerationCancelled(str(result)))
        else:
            out.append(Failure(type(result).__name__, str(result) or type(result).__name__,
                               "".join(tb.format_exception(result))))
    return out


def task_model(provider: Provider, task: Task, where: str) -> Any:
    """The task's model on this worker; a worker that does not see the studio's home (where the
    model folder, SR weight files and LoRAs live) says so and what to do when the model is missing."""
    try:
        return provider.model(task.model_name)
    except UnknownModelError as exc:
        if Path(task.home).is_dir():
            raise
        raise UnknownModelError(f"{exc}. This Dask worker ({where}) does not see the studio's home {task.home}, "
                                "where the model and LoRA folders are: mount it at the same path on the workers (a "
                                "shared file system), or run the workers on the studio's machine") from exc


def with_local_files(task: Task, folder: Path) -> list[GenerationRequest]:
    """The task's requests, with input file paths this worker cannot see replaced by copies of
    the files (written once per content under ``folder``)."""
    missing = {path: data for path, data in task.files.items() if not Path(path).is_file()}
    if not missing:
        return list(task.requests)
    folder.mkdir(parents=True, exist_ok=True)
    local = {}
    for path, data in missing.items():
        copy = folder / (hashlib.sha256(data).hexdigest()[:32] + Path(path).suffix)
        if not copy.is_file():
            tmp = copy.with_name(copy.name + ".part")
            tmp.write_bytes(data)
            tmp.replace(copy)
        local[path] = str(copy)
    return [replace(r, params={k: local.get(v, v) if isinstance(v, str) else v for k, v in r.params.items()})
            for r in task.requests]


def warm_provider(task: Task, local_directory: str) -> Provider:
    """This worker process's provider for the task's class and settings, made once and kept, so
    its pipelines stay loaded between tasks and orders (the provider's own memory budget and
    LRU decide what stays). The studio's home is used where the worker sees it (the same
    machine, a shared file system); otherwise a folder of the worker's own."""
    settings = json.dumps(dict(task.settings), sort_keys=True, default=str)
    home = Path(task.home)
    if not home.is_dir():
        home = Path(local_directory) / "imagen-nb"
    key = (f"{task.provider_class.__module__}.{task.provider_class.__qualname__}", settings, str(home))
    with _providers_lock:
        provider = _providers.get(key)
        if provider is None:
            provider = _providers[key] = task.provider_class(ProviderContext(home, dict(task.settings)))
        return provider


def placement(worker: Any, provider: Provider) -> dict[str, Any]:
    """Which worker, host and GPU ran a generation (recorded in its return parameter set)."""
    device = str(getattr(provider, "device", "") or "")
    gpu = None
    if device.startswith("cuda"):
        try:
            import torch

            index = int(device.split(":")[1]) if ":" in device else 0
            gpu = f"{torch.cuda.get_device_name(index)} ({device})"
        except Exception:  # no torch or no driver: the device name is all we know
            gpu = device
    return {"worker": str(worker.name), "worker_address": worker.address, "host": socket.gethostname(),
            "gpu": gpu}


class _WorkerContext:
    """The RunContext of a task: progress and events go to the studio through the scheduler's
    event log; cancellation is a Dask ``Event`` per generation that the studio sets."""

    def __init__(self, worker: Any, task: Task):
        self._worker = worker
        self._task = task
        self._orders = {r.generation_id: r.order_id for r in task.requests}
        self._last: dict[str, float] = {}
        self._flags: dict[str, Any] = {}

    def progress(self, generation_id: str, step: int, total: int) -> None:
        now = time.monotonic()
        if step < total and now - self._last.get(generation_id, 0.0) < PROGRESS_INTERVAL:
            return
        self._last[generation_id] = now
        self._worker.log_event(self._task.topic, {"kind": "progress", "order_id": self._orders.get(generation_id, ""),
                                                  "generation_id": generation_id, "step": step, "total": total})

    def cancelled(self, generation_id: str) -> bool:
        from distributed import Event as Flag

        flag = self._flags.get(generation_id)
        if flag is None:
            flag = self._flags[generation_id] = Flag(self._task.cancel_prefix + generation_id)
        return bool(flag.is_set())

    def publish(self, event: Event) -> None:
        fields = {k: v for k, v in asdict(event).items() if isinstance(v, (str, int, float, bool, type(None)))}
        self._worker.log_event(self._task.topic, {"kind": "event", "type": type(event).__name__, "fields": fields})
