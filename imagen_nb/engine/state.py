"""The one owner of every status change of orders and generations.

Backends (threads, Dask), the Studio and recovery never edit counts, sets or rows themselves:
they tell :class:`States` what happened (``begin``, ``start``, ``finish``, ``cancel_*``,
``reopen``) and it decides. A generation that reached a final status stays there until a retry
reopens it, so an outcome reported twice (a task re-run after a worker died, a late cancel) is
refused instead of being counted twice. Changes are recorded in batches by the
:class:`~.recorder.Recorder`, which publishes one event per change, with the order's fresh
counts, after the commit. (InvokeAI's ``_set_queue_item_status`` is the model.)
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import datetime, timezone
from typing import Iterable, Mapping

from ..catalog import Catalog
from ..catalog import orders as q_orders
from ..core.errors import ImagenError
from ..core.records import GenerationStarted, OrderFinished
from ..core.status import GenerationStatus, OrderStatus
from .bus import EventBus
from .recorder import Finished, OrderStatusChange, Recorder, Reopened, Started
from .space import DiskSpace
from .tracker import Tracker

log = logging.getLogger(__name__)

FINAL = frozenset({GenerationStatus.COMPLETE, GenerationStatus.FAILED, GenerationStatus.CANCELLED})
PENDING, GENERATING = str(GenerationStatus.PENDING), str(GenerationStatus.GENERATING)


class States:
    """Owns the status of every live order and generation; records and publishes each change.

    Args:
        catalog: where changes are committed (in batches, on the recorder's thread).
        bus: where the events of committed changes go.
        space: the pause switch for a full disk (shared with the executor): a batch the catalog
            cannot take for lack of space is kept and committed again, counted once, when space
            is back. One of its own when omitted.
    """

    def __init__(self, catalog: Catalog, bus: EventBus, *, space: DiskSpace | None = None):
        self.bus = bus
        self.catalog = catalog
        self.space = space if space is not None else DiskSpace(catalog.home, bus)
        self.tracker = Tracker()
        self.recorder = Recorder(catalog, bus, self.tracker, space=self.space)
        self._lock = threading.Lock()
        #: status of each generation of a live order, as decided here (the catalog follows).
        self._generations: dict[str, str] = {}
        # once an order's final rows are committed, its generations are read from the catalog
        bus.subscribe(lambda e: self._forget(e.order_id) if isinstance(e, OrderFinished) else None)

    # -- orders --------------------------------------------------------------------------------
    def begin(self, order_id: str, generation_ids: Iterable[str], *, total: int | None = None,
              done: Mapping[str, int] | None = None) -> None:
        """Follow an order whose generations ``generation_ids`` are queued now.

        ``total`` and ``done`` (finished counts by status) describe an order resumed after a restart.
        """
        ids = list(generation_ids)
        done = done or {}
        self.tracker.begin(order_id, len(ids) if total is None else total,
                           complete=done.get("complete", 0), failed=done.get("failed", 0),
                           cancelled=done.get("cancelled", 0), generation_ids=ids)
        with self._lock:
            self._generations.update(dict.fromkeys(ids, PENDING))

    def queued(self, order_id: str, n: int) -> None:
        """Generations of a followed order went into a queue: the order is ``processing``;
        with none left to run (all finished before), it finishes now."""
        self.recorder.put(OrderStatusChange(order_id, OrderStatus.PROCESSING, only_from=(OrderStatus.PENDING,)))
        if n:
            return
        finished = self.tracker.finish_if_done(order_id)
        if finished is not None:
            # the final row with its counts (e.g. every open generation failed by recovery='fail')
            self.recorder.put(finished)
            self.recorder.flush()
            self.tracker.committed([order_id])

    def reopen(self, order_id: str, generations: Mapping[str, str], *, total: int,
               done: Mapping[str, int]) -> None:
        """Give failed or cancelled generations (id → old status) of an order back to ``pending``:
        a retry, in one call (commit what is queued, count them out, record, commit).

        Raises :class:`ImagenError` while the order is being cancelled.
        """
        self.recorder.flush()
        try:
            counts = self.tracker.reopen(order_id, dict(generations), total=total, done=dict(done))
        except RuntimeError as exc:
            raise ImagenError(str(exc)) from None
        with self._lock:
            self._generations.update(dict.fromkeys(generations, PENDING))
        self.recorder.put(Reopened(order_id, tuple(generations), counts))
        self.recorder.flush()

    # -- generations ---------------------------------------------------------------------------
    def start(self, order_id: str, generation_id: str, at: datetime | None = None, pid: int | None = None) -> bool:
        """A generation starts running in process ``pid`` (default: this one); False (and nothing
        recorded) when it is already final."""
        with self._lock:
            if self._current(generation_id) in FINAL:
                return False
            self._generations[generation_id] = GENERATING
        if self.tracker.mark_started(order_id):
            self.recorder.put(OrderStatusChange(order_id, OrderStatus.UNDERWAY,
                                                only_from=(OrderStatus.PENDING, OrderStatus.PROCESSING)))
        self.recorder.put(Started(order_id, generation_id, at or datetime.now(timezone.utc),
                                  os.getpid() if pid is None else pid))
        self.bus.publish(GenerationStarted(order_id=order_id, generation_id=generation_id))
        return True

    def finish(self, outcome: Finished) -> bool:
        """A generation reached a final status; False (and nothing recorded) when it already had one."""
        if outcome.status not in FINAL:
            raise ValueError(f"{outcome.status!r} is not a final status; use one of {sorted(FINAL)}")
        with self._lock:
            current = self._current(outcome.generation_id)
            if current in FINAL:
                log.info("generation %s is already %s; %s refused", outcome.generation_id, current,
                         outcome.status)
                return False
            self._generations[outcome.generation_id] = str(outcome.status)
        self.recorder.put(outcome)
        return True

    def status(self, generation_id: str) -> str | None:
        """The status this owner last gave a generation (None when unknown)."""
        with self._lock:
            return self._current(generation_id)

    def _current(self, generation_id: str) -> str | None:
        """A generation's status: followed here while its order is live; one forgotten since its
        order finished and committed reads its (final) committed row."""
        status = self._generations.get(generation_id)
        if status is None:
            row = q_orders.get_generation(self.catalog.cursor(), generation_id)
            status = None if row is None else str(row["status"])
        return status

    # -- cancelling ----------------------------------------------------------------------------
    def cancel_order(self, order_id: str) -> bool:
        """Flag every generation of an order as cancelled; False when the order is not live."""
        return self.tracker.request_cancel(order_id) is not None

    def cancel_generation(self, generation_id: str) -> None:
        """Flag one generation as cancelled (it stops at its next step, or is dropped from its queue)."""
        self.tracker.cancel_generation(generation_id)

    def is_cancelled(self, order_id: str, generation_id: str) -> bool:
        """True when the generation or its order was cancelled."""
        return self.tracker.is_cancelled(order_id, generation_id)

    # -- waiting -------------------------------------------------------------------------------
    def flush(self, timeout: float | None = 30) -> bool:
        """Block until every change reported so far is committed."""
        return self.recorder.flush(timeout)

    def wait(self, order_id: str, timeout: float | None = None) -> bool:
        """Block until the order is finished and committed; False on timeout.

        Raises :class:`ImagenError` (once) when committing this order's changes failed.
        """
        ok = self.tracker.wait(order_id, timeout)
        err = self.recorder.take_error(order_id)
        if err is not None:
            raise ImagenError(f"recording outcomes of order {order_id} in the catalog failed: {err}; "
                              "see the log for the traceback, then retry the order") from err
        return ok

    def _forget(self, order_id: str) -> None:
        state = self.tracker.get(order_id)
        if state is None or not state.final_committed:
            return
        with self._lock:
            for gid in state.generation_ids:
                self._generations.pop(gid, None)

    def close(self, timeout: float = 30) -> None:
        """Commit what is queued and stop the recorder."""
        self.recorder.close(timeout)
