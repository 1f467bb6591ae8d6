"""The recorder: one thread that writes executor outcomes to the catalog in batches.

Per-row autocommits cost milliseconds each in DuckDB; one transaction per batch of outcomes
keeps thousands of generations per second possible. Events that promise a committed row
(ProductReady, GenerationFinished, OrderFinished) are published only after the commit.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..catalog import Catalog
from ..catalog import api_calls as q_api_calls
from ..catalog import orders as q_orders
from ..catalog import products as q_products
from ..core.errors import is_disk_full
from ..core.records import ApiCall, Event, GenerationFinished, OrderFinished, ProductReady
from . import journal
from .bus import EventBus
from .space import DiskSpace
from .tracker import Tracker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Started:
    """A generation started (written as status ``generating``) in process ``pid``."""
    order_id: str
    generation_id: str
    at: datetime
    pid: int | None = None


@dataclass(frozen=True)
class Finished:
    """A generation reached a final status, with its parameter sets, error and product rows."""
    order_id: str
    generation_id: str
    status: str
    actual_params: Any = None
    return_params: Any = None
    error_type: str | None = None
    error_message: str | None = None
    traceback: str | None = None
    products: tuple[dict, ...] = ()
    at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


@dataclass(frozen=True)
class OrderStatusChange:
    """Move an order to ``status`` (only from ``only_from`` when given)."""
    order_id: str
    status: str
    only_from: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reopened:
    """Failed or cancelled generations go back to ``pending`` (a retry); with ``order_counts``
    the finished order is reopened too (see :func:`catalog.orders.reopen_generations`)."""
    order_id: str
    generation_ids: tuple[str, ...]
    order_counts: dict | None = None


@dataclass(frozen=True)
class _Flush:
    done: threading.Event


class Recorder:
    """Drains a queue of outcomes, commits each batch in one transaction, then publishes.

    A batch that cannot be committed because the disk is full is kept and committed again once
    ``space`` says there is room (the queue is paused meanwhile); nothing is half-recorded.
    """

    def __init__(self, catalog: Catalog, bus: EventBus, tracker: Tracker, *, max_batch: int = 2000,
                 linger: float = 0.1, space: DiskSpace | None = None):
        self.catalog = catalog
        self.space = space if space is not None else DiskSpace(catalog.home, bus)
        self._holding = False  # a batch waits for disk space
        self._closing = False
        self.bus = bus
        self.tracker = tracker
        self.max_batch = max_batch
        self.linger = linger
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = False
        #: every error that failed a commit, oldest first (a log; :meth:`take_error` reports each once)
        self.errors: list[BaseException] = []
        self._errors: dict[str | None, BaseException] = {}
        self._errors_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="imagen-nb-recorder", daemon=True)
        self._thread.start()

    def put(self, op) -> None:
        """Queue an outcome (Started, Finished, OrderStatusChange, Reopened, an OrderFinished of an
        order with nothing left to run, or an ApiCall event)."""
        self._queue.put(op)

    def take_error(self, order_id: str | None = None) -> BaseException | None:
        """The error that failed a commit of this order's changes (None: of changes of no order),
        or None; it is cleared, so each failure is reported once."""
        with self._errors_lock:
            return self._errors.pop(order_id, None)

    def _note_error(self, ops: list, exc: BaseException) -> None:
        with self._errors_lock:
            if not self.errors or self.errors[-1] is not exc:
                self.errors.append(exc)
            for order_id in {getattr(op, "order_id", None) or None for op in ops}:
                self._errors[order_id] = exc

    def flush(self, timeout: float | None = 30) -> bool:
        """Block until everything queued before this call is committed; False on timeout, or at
        once while a batch waits for disk space (it is committed when space is back)."""
        done = threading.Event()
        self._queue.put(_Flush(done))
        deadline = None if timeout is None else time.monotonic() + timeout
        while not done.wait(0.05):
            if self._holding or (deadline is not None and time.monotonic() >= deadline):
                return False
        return True

    def close(self, timeout: float = 30) -> None:
        """Commit what is queued and stop the thread. A batch waiting for disk space is kept in a
        journal (:mod:`.journal`) and committed when the home reopens, so its finished generations
        are not run (nor billed) again."""
        self._closing = True
        self.flush(timeout)
        self._stop = True
        self._queue.put(None)
        self._thread.join(timeout)

    # -- the thread ------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None and self._stop:
                return
            batch = [first] if first is not None else []
            # Let outcomes accumulate for up to `linger` after the first, so one commit covers
            # several generations; stop waiting as soon as someone waits for the result: a
            # flush(), close(), or the last outcome of an order (order.wait()).
            finished: Counter[str] = Counter()
            urgent = self._urgent(first, finished)
            deadline = time.monotonic() + self.linger
            while len(batch) < self.max_batch:
                remaining = 0.0 if urgent else deadline - time.monotonic()
                try:
                    op = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if op is None:
                    urgent = urgent or self._stop
                    continue
                batch.append(op)
                urgent = self._urgent(op, finished) or urgent
            flushes = [op for op in batch if isinstance(op, _Flush)]
            work = [op for op in batch if not isinstance(op, _Flush)]
            if work:
                try:
                    self._commit(work)
                except BaseException as exc:  # keep the thread alive; record what went wrong
                    if is_disk_full(exc):  # given up at close: plain words, not a traceback
                        self._keep_for_reopen(work)
                    else:
                        log.exception("recording %d outcomes failed", len(work))
                    self._note_error(work, exc)
            for f in flushes:
                f.done.set()

    def _keep_for_reopen(self, work: list) -> None:
        """A batch the full disk kept out of the catalog at close: its finished generations go to a
        journal committed on reopen (their files are saved and may have cost money: running them
        again would bill them twice); the rest (starts, status changes) recovery redoes anyway."""
        finished = [op for op in work if isinstance(op, Finished)]
        kept = journal.save(self.catalog.home, finished) if finished else None
        if kept is not None:
            log.warning("imagen-nb: the disk is full: %d finished generation(s) could not be written to the catalog "
                        "and were kept in %s; they are recorded (not run again) when this home is opened",
                        len(finished), kept)
        else:
            log.warning("imagen-nb: %d outcome(s) not recorded, the disk is full (not even %s could be written); "
                        "their generations are still open in the catalog and run again when this home is opened",
                        len(work), self.catalog.home / journal.JOURNAL_DIR)

    def _urgent(self, op, finished: Counter) -> bool:
        """True when ``op`` is a flush, or the last outstanding outcome of its order.

        ``finished`` counts the batch's Finished outcomes per order; ``op`` is added to it.
        """
        if isinstance(op, _Flush):
            return True
        if not isinstance(op, Finished):
            return False
        finished[op.order_id] += 1
        state = self.tracker.get(op.order_id)
        return state is None or state.finished + finished[op.order_id] >= state.total

    def _commit(self, ops: list) -> None:
        finished = [op for op in ops if isinstance(op, Finished)]
        started_at = {op.generation_id: op for op in ops if isinstance(op, Started)}
        # A generation that started and finished within this batch is written once, not twice.
        finished_ids = {op.generation_id for op in finished}
        started = [(gid, op.at, op.pid) for gid, op in started_at.items() if gid not in finished_ids]
        status_changes = [op for op in ops if isinstance(op, OrderStatusChange)]
        reopened = [op for op in ops if isinstance(op, Reopened)]
        calls = [op for op in ops if isinstance(op, ApiCall)]
        # an order finished with nothing left to run (see States.queued): its final row, as is
        order_done: list[OrderFinished] = [op for op in ops if isinstance(op, OrderFinished)]
        counts: list[dict[str, int]] = []  # each order's counts right after each outcome
        for op in finished:
            done = self.tracker.count(op.order_id, op.status)
            counts.append(self.tracker.counts(op.order_id))
            if done is not None:
                order_done.append(done)
        now = datetime.now(timezone.utc)
        while True:
            try:
                self._write(reopened, status_changes, started, calls, finished, started_at, order_done, now)
                break
            except BaseException as exc:
                if is_disk_full(exc) and not self._closing:
                    self.space.pause(exc, f"the catalog ({len(finished)} finished generation(s))")
                    self._holding = True
                    try:
                        if self.space.wait(lambda: self._closing):
                            continue  # space is back: the same batch again, counted once
                    finally:
                        self._holding = False
                # Waiters must not hang on rows that will never come: wake them, with the error
                # noted first so that their wait() reports it.
                self._note_error(ops, exc)
                self.tracker.committed([d.order_id for d in order_done])
                raise
        events: list[Event] = []
        for op, fresh in zip(finished, counts):
            for p in op.products:
                events.append(ProductReady(order_id=op.order_id, generation_id=op.generation_id,
                                           product_id=p["id"], path=str(self.catalog.home / p["path"])))
            events.append(GenerationFinished(order_id=op.order_id, generation_id=op.generation_id,
                                             status=op.status, error_type=op.error_type,
                                             error_message=op.error_message, **fresh))
        events.extend(order_done)
        self.tracker.committed([d.order_id for d in order_done])
        for event in events:
            self.bus.publish(event)

    def _write(self, reopened, status_changes, started, calls, finished, started_at, order_done, now) -> None:
        """One transaction with everything of a batch (all of it committed, or none)."""
        with self.catalog.transaction() as cur:
            for op in reopened:  # queued before the retried generations start: first
                q_orders.reopen_generations(cur, op.order_id, op.generation_ids, op.order_counts)
            for change in status_changes:
                q_orders.change_status(cur, change.order_id, change.status, change.only_from)
            q_orders.mark_generating(cur, started)
            q_api_calls.insert(cur, calls)
            q_products.insert_products(cur, [p for op in finished for p in op.products])
            q_orders.finish_generations(cur, [
                {"id": op.generation_id, "status": op.status, "actual_params": op.actual_params,
                 "return_params": op.return_params, "error_type": op.error_type,
                 "error_message": op.error_message, "traceback": op.traceback, "finished_at": op.at,
                 "started_at": began.at if (began := started_at.get(op.generation_id)) else None,
                 "pid": began.pid if began else None}
                for op in finished])
            q_orders.set_order_status(cur, [
                {"id": d.order_id, "status": d.status, "complete_count": d.complete,
                 "failed_count": d.failed, "cancelled_count": d.cancelled, "finished_at": now}
                for d in order_done])
