"""The executor: lanes of worker threads that run generations in the background.

A lane serves one device of a local provider (one worker keeps its pipelines warm) or one
remote provider (``concurrency`` workers). Workers never touch widgets or the catalog: they
write product files, publish events and hand outcomes to the :class:`Recorder`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import traceback as tb
from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import PurePath
from typing import Any, Callable, Mapping, Sequence

from ..core.errors import GenerationCancelled, is_disk_full
from ..core.ids import new_id
from ..core.inputs import clean_text, storable
from ..core.records import (
    ApiCall,
    Event, GenerationProgress, GenerationRequest, GenerationResult, ModelInfo,
    OrderQueued,
)
from ..core.status import GenerationStatus
from ..providers.base import Factory, Provider
from ..store import ProductStore, pngmeta
from .bus import EventBus
from .recorder import Finished
from .space import DiskSpace
from .state import States

log = logging.getLogger(__name__)

EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif",
              "video/mp4": "mp4", "video/webm": "webm", "audio/wav": "wav", "audio/x-wav": "wav",
              "audio/mpeg": "mp3", "audio/flac": "flac", "audio/ogg": "ogg", "audio/mp4": "m4a",
              "text/plain": "txt", "application/json": "json"}

COMMON = ("prompt", "negative_prompt", "seed", "num_inference_steps", "guidance_scale")


@dataclass(frozen=True)
class Job:
    """One generation waiting in a lane."""

    order_id: str
    generation_id: str
    seq: int
    model: ModelInfo
    factory: Factory
    params: Mapping[str, Any]
    project_id: str | None


class Lane:
    """A queue of jobs and the workers that serve it."""

    def __init__(self, executor: "Executor", name: str, workers: int):
        self.name = name
        #: runs a batch of started jobs: the factory in this process (threads) or on a cluster.
        self.call = executor._call_here
        self.jobs: deque[Job] = deque()
        self.cond = threading.Condition()
        self.running: set[str] = set()
        #: True while a training step holds the lane's device; workers that took a batch wait for
        #: it to end (see :meth:`Executor.device_turn`)
        self.training = False
        self.threads = [
            threading.Thread(target=executor._work, args=(self,), name=f"imagen-nb-{name}-{i}", daemon=True)
            for i in range(workers)
        ]
        for t in self.threads:
            t.start()

    def take(self, batch_limit: int, stopping: threading.Event, space: DiskSpace) -> list[Job] | None:
        """Block until jobs are queued (and the queue is not paused for disk space); return the
        first and those that can share its batch."""
        with self.cond:
            while not self.jobs or not space.poll():
                if stopping.is_set():
                    return None
                self.cond.wait(0.5 if space.paused is None else min(0.5, space.interval))
            first = self.jobs.popleft()
            batch = [first]
            key = first.factory.batch_key(first.params) if batch_limit > 1 else None
            if key is not None:
                i = 0
                while i < len(self.jobs) and len(batch) < batch_limit:
                    job = self.jobs[i]
                    if job.factory is first.factory and job.factory.batch_key(job.params) == key:
                        batch.append(job)
                        del self.jobs[i]
                    else:
                        i += 1
            self.running.update(j.generation_id for j in batch)
            return batch


class _RunContext:
    """What a factory sees of the executor (progress, cancellation, events)."""

    def __init__(self, executor: "Executor", jobs: Sequence[Job]):
        self._ex = executor
        self._orders = {j.generation_id: j.order_id for j in jobs}

    def progress(self, generation_id: str, step: int, total: int) -> None:
        self._ex.bus.publish(GenerationProgress(order_id=self._orders.get(generation_id, ""),
                                                generation_id=generation_id, step=step, total=total))

    def cancelled(self, generation_id: str) -> bool:
        return self._ex._stopping.is_set() or self._ex.states.is_cancelled(
            self._orders.get(generation_id, ""), generation_id)

    def publish(self, event: Event) -> None:
        self._ex.publish(event, self._orders.get(getattr(event, "generation_id", ""), ""))


class Executor:
    """Runs submitted generations on background lanes and records their outcomes.

    Args:
        store: where product files go.
        states: the owner of every status change (records them in batches).
        bus: receives progress and outcome events.
        batch_limit: most generations handed to one factory call (factories opt in via ``batch_key``).
        space: the pause switch for a full disk (shared with the recorder); one of its own when omitted.
    """

    #: the backend's name (``Studio.cluster`` reports it).
    backend = "threads"

    def __init__(self, store: ProductStore, states: States, bus: EventBus, *, batch_limit: int = 8,
                 space: DiskSpace | None = None):
        self.store = store
        self.states = states
        self.space = space if space is not None else DiskSpace(store.home, bus)
        self.bus = bus
        self.batch_limit = batch_limit
        self._lanes: dict[str, Lane] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    # -- submitting ------------------------------------------------------------------------
    def submit(self, provider: Provider, model: ModelInfo, factory: Factory, order_id: str,
               generations: Sequence[tuple[str, int, Mapping[str, Any]]], *, project_id: str | None,
               total: int | None = None, done: Mapping[str, int] | None = None) -> None:
        """Queue generations ``(id, seq, validated params)`` of an order on the model's lane.

        ``total`` and ``done`` (counts by status) describe an order resumed after a restart.
        """
        self.states.begin(order_id, [g[0] for g in generations], total=total, done=done)
        self._enqueue(provider, model, factory, order_id, generations, project_id=project_id)

    def retry(self, provider: Provider, model: ModelInfo, factory: Factory, order_id: str,
              generations: Sequence[tuple[str, int, Mapping[str, Any], str]], *, total: int,
              done: Mapping[str, int], project_id: str | None) -> None:
        """Run failed or cancelled generations ``(id, seq, validated params, old status)`` of an
        order again, in one call: the state owner reopens them, then they are queued.

        ``total`` and ``done`` are the order's generation count and finished counts in the catalog.
        Raises :class:`~imagen_nb.core.errors.ImagenError` while the order is being cancelled.
        """
        self.states.reopen(order_id, {g[0]: g[3] for g in generations}, total=total, done=done)
        self._enqueue(provider, model, factory, order_id, [g[:3] for g in generations], project_id=project_id)

    def _enqueue(self, provider: Provider, model: ModelInfo, factory: Factory, order_id: str,
                 generations: Sequence[tuple[str, int, Mapping[str, Any]]], *, project_id: str | None) -> None:
        lane = self._lane(provider, model)
        jobs = [Job(order_id, gid, seq, model, factory, params, project_id) for gid, seq, params in generations]
        self.states.queued(order_id, len(jobs))
        with lane.cond:
            lane.jobs.extend(jobs)
            lane.cond.notify_all()
        self.bus.publish(OrderQueued(order_id=order_id, generations=len(jobs)))

    def _lane(self, provider: Provider, model: ModelInfo) -> Lane:
        name = provider.lane(model)
        with self._lock:
            lane = self._lanes.get(name)
            if lane is None:
                lane = self._lanes[name] = Lane(self, name, max(1, provider.concurrency))
            return lane

    @contextlib.contextmanager
    def device_turn(self, provider: Provider, model: ModelInfo, stop: Callable[[], bool] = lambda: False):
        """Hold the device of ``model``'s lane for one unit of other work (a training step).

        Generations go first: the turn starts once the lane has nothing queued or running (and no
        other turn is held), and a worker that takes a batch meanwhile waits for the turn to end.
        So a queued generation waits for at most one training step, and training only uses the
        device when it is idle; the lane's workers still run side by side between turns.
        Yields False (and holds nothing) when ``stop()`` becomes true while waiting.
        """
        lane = self._lane(provider, model)
        with lane.cond:
            while (lane.jobs or lane.running or lane.training) and not stop() and not self._stopping.is_set():
                lane.cond.wait(0.05)
            held = not (stop() or self._stopping.is_set())
            lane.training = held
        try:
            yield held
        finally:
            if held:
                with lane.cond:
                    lane.training = False
                    lane.cond.notify_all()

    # -- cancelling ------------------------------------------------------------------------
    def cancel_order(self, order_id: str) -> int:
        """Cancel every generation of an order: queued ones at once, running ones at their next step."""
        if not self.states.cancel_order(order_id):
            return 0
        return self._drop(lambda job: job.order_id == order_id)

    def cancel_generation(self, order_id: str, generation_id: str) -> int:
        """Cancel one generation."""
        self.states.cancel_generation(generation_id)
        return self._drop(lambda job: job.generation_id == generation_id)

    def _drop(self, match) -> int:
        dropped: list[Job] = []
        with self._lock:
            lanes = list(self._lanes.values())
        for lane in lanes:
            with lane.cond:
                keep = deque()
                for job in lane.jobs:
                    (dropped if match(job) else keep).append(job)
                lane.jobs = keep
        for job in dropped:
            self.states.finish(Finished(job.order_id, job.generation_id, GenerationStatus.CANCELLED))
        self._signal_cancel(match)
        return len(dropped)

    def _signal_cancel(self, match) -> None:
        """Tell running jobs that match they are cancelled (the thread backend's workers read
        the state owner's flags themselves)."""

    def queue_position(self, generation_id: str) -> int | None:
        """0-based position of a queued generation in its lane, None when not queued."""
        with self._lock:
            lanes = list(self._lanes.values())
        for lane in lanes:
            with lane.cond:
                for i, job in enumerate(lane.jobs):
                    if job.generation_id == generation_id:
                        return i
        return None

    def queue_positions(self, generation_ids: Sequence[str] | None = None) -> dict[str, int]:
        """0-based positions of queued generations in their lanes (of these ids, or of all), in one
        pass over each lane: what a panel shows for a thousand queued generations."""
        wanted = None if generation_ids is None else set(generation_ids)
        with self._lock:
            lanes = list(self._lanes.values())
        out: dict[str, int] = {}
        for lane in lanes:
            with lane.cond:
                for i, job in enumerate(lane.jobs):
                    if wanted is None or job.generation_id in wanted:
                        out[job.generation_id] = i
        return out

    # -- working ---------------------------------------------------------------------------
    def _work(self, lane: Lane) -> None:
        while True:
            batch = lane.take(self.batch_limit, self._stopping, self.space)
            if batch is None:
                return
            with lane.cond:  # a training step in progress finishes first (its batch is 'running' now)
                while lane.training:
                    lane.cond.wait(0.5)
            try:
                self._run_batch(lane, batch)
            except BaseException:  # never lose a worker; each job was recorded or is failed here
                log.exception("worker of lane %s failed", lane.name)
            finally:
                with lane.cond:
                    lane.running.difference_update(j.generation_id for j in batch)
                    lane.cond.notify_all()  # a training run waiting for its turn

    def _run_batch(self, lane: Lane, batch: list[Job]) -> None:
        live = []
        now = datetime.now(timezone.utc)
        for job in batch:
            if self.states.is_cancelled(job.order_id, job.generation_id):
                self.states.finish(Finished(job.order_id, job.generation_id, GenerationStatus.CANCELLED))
            elif self._claim(job, now):
                live.append(job)
        if not live:
            return
        try:
            results = lane.call(live)
            if len(results) != len(live):
                raise RuntimeError(f"{type(live[0].factory).__name__}.run returned {len(results)} results "
                                   f"for {len(live)} requests")
        except BaseException as exc:  # the whole call failed: every request in it failed
            results = [exc] * len(live)
        for job, result in zip(live, results):
            result = _storable(result)
            if self._stopping.is_set() and isinstance(result, GenerationCancelled):
                # Stopped by close(), not by the user: the row stays 'generating' and the next
                # Studio on this home re-queues it (crash recovery covers a clean stop too).
                continue
            outcome = self._outcome(job, result)
            if outcome is None:
                continue  # stopped while the disk was full: the next Studio on this home re-runs it
            if not self.states.finish(outcome):  # already final (reported twice): drop its files
                for p in outcome.products:
                    self.store.remove(self.store.home / p["path"])

    def _claim(self, job: Job, now: datetime) -> bool:
        """Take a job out of its queue to run it; False when it is already final. Here it
        starts at once (a backend whose jobs wait elsewhere first reports the start later)."""
        return self.states.start(job.order_id, job.generation_id, now)

    def _call_here(self, live: list[Job]) -> list[GenerationResult | BaseException]:
        """Run a batch with its factory on this thread."""
        requests = [GenerationRequest(j.generation_id, j.order_id, j.model.id, j.params) for j in live]
        return live[0].factory.run(requests, _RunContext(self, live))

    def publish(self, event: Event, order_id: str = "") -> None:
        """Publish a factory's event; API calls are also recorded with the next batch."""
        if isinstance(event, ApiCall):
            event = _storable(event)
            if not event.order_id:
                event = replace(event, order_id=order_id)
            self.states.recorder.put(event)  # a log row, not a status change
        self.bus.publish(event)

    @property
    def cluster(self) -> Any:
        """What serves this executor beyond this process (None for threads)."""
        return None

    def _outcome(self, job: Job, result: GenerationResult | BaseException) -> Finished | None:
        """The generation's outcome, its files written; None when the executor stopped while the
        disk was full (the row stays ``generating`` and the next Studio on this home re-runs it)."""
        if isinstance(result, GenerationCancelled) or (
                not isinstance(result, BaseException) and self.states.is_cancelled(job.order_id, job.generation_id)):
            return Finished(job.order_id, job.generation_id, GenerationStatus.CANCELLED)
        if isinstance(result, BaseException):
            return self._failure(job, result)
        # Ids and date are fixed before the first try: a retried save replaces its own files.
        ids = [new_id() for _ in result.outputs]
        now = datetime.now(timezone.utc)
        written: list = []
        while True:
            try:
                products = tuple(self._store(job, result, ids, now, written))
                break
            except Exception as exc:
                if not is_disk_full(exc):
                    return self._failure(job, exc)
                # The result may have cost money: keep it and save it again once there is space.
                self.space.pause(exc, f"the product of generation {job.generation_id} (order {job.order_id})")
            if not self.space.wait(lambda: self._stopping.is_set()
                                   or self.states.is_cancelled(job.order_id, job.generation_id)):
                for path in written:
                    self.store.remove(path)
                if self._stopping.is_set():
                    return None
                return Finished(job.order_id, job.generation_id, GenerationStatus.CANCELLED)
        return Finished(job.order_id, job.generation_id, GenerationStatus.COMPLETE,
                        actual_params=dict(result.actual), return_params=dict(result.returned),
                        products=products)

    @staticmethod
    def _failure(job: Job, exc: BaseException) -> Finished:
        # a failure on another process (a Dask worker) carries that process's type and traceback
        return Finished(job.order_id, job.generation_id, GenerationStatus.FAILED,
                        error_type=getattr(exc, "error_type", None) or type(exc).__name__,
                        error_message=str(exc) or type(exc).__name__,
                        traceback=getattr(exc, "traceback_text", None) or "".join(tb.format_exception(exc)))

    def _store(self, job: Job, result: GenerationResult, ids: Sequence[str], now: datetime, written: list):
        actual = dict(result.actual) or dict(job.params)
        rows = []
        for output, product_id in zip(result.outputs, ids):
            data = output.data
            if output.media_type == "image/png":
                data = pngmeta.embed(data, actual, job.model.id,
                                     extra={"generation_id": job.generation_id, "order_id": job.order_id,
                                            "product_id": product_id},
                                     **_infotext_hashes(result.returned))
            ext = EXTENSIONS.get(output.media_type, "bin")
            stored = self.store.write(product_id, data, ext, now)
            written.append(stored.path)
            row = {
                "id": product_id, "generation_id": job.generation_id, "order_id": job.order_id,
                "project_id": job.project_id, "model_id": job.model.id, "source": "generated",
                "kind": output.media_type.split("/")[0], "media_type": output.media_type,
                "path": self.store.catalog_path(stored.path),
                "thumb_path": self.store.catalog_path(stored.thumb_path) if stored.thumb_path else None,
                "size": stored.size, "width": stored.width, "height": stored.height,
                "sha256": stored.sha256, "params": actual, "created_at": now,
            }
            for key in COMMON:
                row[key] = actual.get(key)
            rows.append(row)
        return rows

    # -- stopping --------------------------------------------------------------------------
    def idle(self) -> bool:
        """True when no job is queued or running."""
        with self._lock:
            lanes = list(self._lanes.values())
        return all(not lane.jobs and not lane.running for lane in lanes)

    def close(self, timeout: float = 30) -> None:
        """Stop taking jobs, let running ones finish (up to ``timeout``), and stop the workers."""
        self._stopping.set()
        with self._lock:
            lanes = list(self._lanes.values())
        for lane in lanes:
            with lane.cond:
                lane.jobs.clear()  # left pending in the catalog: resumed when the studio reopens
                lane.cond.notify_all()
        for lane in lanes:
            for t in lane.threads:
                t.join(timeout)


def _storable(item: Any) -> Any:
    """What comes back from a provider, as the catalog, the product files and the panels can hold
    it: the text of a result's parameter sets, of a failure's message and traceback and of an API
    call's fields cleaned by :func:`~imagen_nb.core.inputs.storable` (a lone surrogate in a
    provider's JSON reply would fail the recorder's whole batch). The one place this is done:
    every result and every API call of every backend passes here."""
    if isinstance(item, GenerationResult):
        return replace(item, actual=storable(dict(item.actual)), returned=storable(dict(item.returned)))
    if isinstance(item, ApiCall):
        return replace(item, **{k: storable(getattr(item, k)) for k in ("endpoint", "method", "request_id", "error")})
    if isinstance(item, BaseException) and not isinstance(item, GenerationCancelled):
        text = str(item)
        shown, changed = clean_text(text)
        traceback = getattr(item, "traceback_text", None)
        if changed or (isinstance(traceback, str) and clean_text(traceback)[1]):
            return _CleanedFailure(item, shown)
    return item


class _CleanedFailure(Exception):
    """A provider's failure whose message held text no catalog can store, cleaned; it keeps the
    type name and traceback of the original for the generation's record."""

    def __init__(self, original: BaseException, message: str):
        super().__init__(message)
        self.error_type = getattr(original, "error_type", None) or type(original).__name__
        original_tb = getattr(original, "traceback_text", None) or "".join(tb.format_exception(original))
        self.traceback_text = clean_text(original_tb)[0]


def _infotext_hashes(returned: Mapping[str, Any]) -> dict[str, Any]:
    """The model and LoRA hashes a provider reported, as :func:`pngmeta.embed` takes them."""
    loras = []
    for lora in returned.get("loras") or ():
        if isinstance(lora, Mapping) and lora.get("a1111_hash"):
            name = lora.get("name") or PurePath(str(lora.get("file") or "lora")).stem
            loras.append((str(name), str(lora["a1111_hash"])))
    model_hash = returned.get("model_hash")
    return {"model_hash": model_hash if isinstance(model_hash, str) and model_hash else None, "loras": loras}
