"""In-memory state of live orders: counts of finished generations, waiters, cancellation."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from ..core.records import OrderFinished
from ..core.status import GenerationStatus, order_outcome


@dataclass
class OrderState:
    """Counts of one order's generations as committed to the catalog."""

    order_id: str
    total: int
    complete: int = 0
    failed: int = 0
    cancelled: int = 0
    started: bool = False
    cancel_requested: bool = False
    final_status: str | None = None
    final_committed: bool = False
    generation_ids: set[str] = field(default_factory=set)

    @property
    def finished(self) -> int:
        """Generations of the order that reached a final status."""
        return self.complete + self.failed + self.cancelled


class Tracker:
    """Thread-safe registry of live orders; ``wait`` blocks until an order's rows are committed."""

    def __init__(self) -> None:
        self._orders: dict[str, OrderState] = {}
        self._cond = threading.Condition()
        self.cancelled_generations: set[str] = set()

    def begin(self, order_id: str, total: int, *, complete: int = 0, failed: int = 0,
              cancelled: int = 0, generation_ids=()) -> OrderState:
        """Start tracking an order of ``total`` generations (some maybe already finished)."""
        with self._cond:
            state = OrderState(order_id, total, complete, failed, cancelled,
                               generation_ids=set(generation_ids))
            self._orders[order_id] = state
            return state

    def get(self, order_id: str) -> OrderState | None:
        """The state of a tracked order, or None."""
        return self._orders.get(order_id)

    def mark_started(self, order_id: str) -> bool:
        """True the first time a generation of this order starts."""
        with self._cond:
            state = self._orders.get(order_id)
            if state is None or state.started:
                return False
            state.started = True
            return True

    def request_cancel(self, order_id: str) -> OrderState | None:
        """Flag an order and its generations as cancelled by the user."""
        with self._cond:
            state = self._orders.get(order_id)
            if state is not None and state.final_status is None:
                state.cancel_requested = True
                self.cancelled_generations.update(state.generation_ids)
            return state

    def cancel_generation(self, generation_id: str) -> None:
        """Flag one generation as cancelled by the user."""
        with self._cond:
            self.cancelled_generations.add(generation_id)

    def is_cancelled(self, order_id: str, generation_id: str) -> bool:
        """True when the generation or its order was cancelled."""
        with self._cond:
            if generation_id in self.cancelled_generations:
                return True
            state = self._orders.get(order_id)
            return bool(state and state.cancel_requested)

    def counts(self, order_id: str) -> dict[str, int]:
        """The order's total and finished counts by status now (zeros for an unknown order)."""
        with self._cond:
            state = self._orders.get(order_id)
            if state is None:
                return {"total": 0, "complete": 0, "failed": 0, "cancelled": 0}
            return {"total": state.total, "complete": state.complete, "failed": state.failed,
                    "cancelled": state.cancelled}

    def count(self, order_id: str, status: str) -> OrderFinished | None:
        """Count a finished generation; return the order's OrderFinished when it was the last."""
        with self._cond:
            state = self._orders.get(order_id)
            if state is None or state.final_status is not None:
                return None
            if status == GenerationStatus.COMPLETE:
                state.complete += 1
            elif status == GenerationStatus.FAILED:
                state.failed += 1
            else:
                state.cancelled += 1
            return self._maybe_finish(state)

    def finish_if_done(self, order_id: str) -> OrderFinished | None:
        """OrderFinished for an order none of whose generations is left (e.g. after recovery)."""
        with self._cond:
            state = self._orders.get(order_id)
            return self._maybe_finish(state) if state and state.final_status is None else None

    def _maybe_finish(self, state: OrderState) -> OrderFinished | None:
        if state.finished < state.total:
            return None
        status = order_outcome(state.complete, state.failed, state.cancelled,
                               cancelled_by_user=state.cancel_requested)
        state.final_status = str(status)
        return OrderFinished(order_id=state.order_id, status=str(status), complete=state.complete,
                             failed=state.failed, cancelled=state.cancelled)

    def committed(self, finished_orders=()) -> None:
        """Mark orders whose final rows are committed and wake every waiter."""
        with self._cond:
            for order_id in finished_orders:
                state = self._orders.get(order_id)
                if state is not None:
                    state.final_committed = True
            self._cond.notify_all()

    def wait(self, order_id: str, timeout: float | None = None) -> bool:
        """Block until the order is finished and committed; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                state = self._orders.get(order_id)
                if state is None or state.final_committed:
                    return True
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining if remaining is not None else 1.0)

    def reopen(self, order_id: str, generations: dict[str, str], *, total: int,
               done: dict[str, int]) -> dict[str, int] | None:
        """Track generations of an order that run again (a retry); ``generations`` maps id → old status.

        A live order gets them back (its failed/cancelled counts drop, so it cannot finish before
        they do) and None is returned. A finished order (or one not tracked in this process, whose
        ``total`` and finished counts ``done`` come from the catalog) is tracked afresh; the counts
        it starts from are returned, for the catalog's order row. Raises ``RuntimeError`` while
        the order is being cancelled.
        """
        removed = {"failed": 0, "cancelled": 0}
        for status in generations.values():
            removed[str(status)] = removed.get(str(status), 0) + 1
        with self._cond:
            state = self._orders.get(order_id)
            # An order whose last outcome is being committed right now: wait for it, then start afresh.
            while state is not None and state.final_status is not None and not state.final_committed:
                self._cond.wait(1.0)
                state = self._orders.get(order_id)
            if state is not None and state.final_status is None and state.cancel_requested:
                raise RuntimeError(f"order {order_id} is being cancelled; retry when it has stopped")
            self.cancelled_generations.difference_update(generations)
            if state is not None and state.final_status is None:
                state.failed -= removed["failed"]
                state.cancelled -= removed["cancelled"]
                state.generation_ids.update(generations)
                return None
            if state is not None:
                total = state.total
                done = {"complete": state.complete, "failed": state.failed, "cancelled": state.cancelled}
            counts = {"complete": done.get("complete", 0),
                      "failed": done.get("failed", 0) - removed["failed"],
                      "cancelled": done.get("cancelled", 0) - removed["cancelled"]}
            self._orders[order_id] = OrderState(order_id, total, counts["complete"], counts["failed"],
                                                counts["cancelled"], generation_ids=set(generations))
            return counts

    def live(self) -> list[OrderState]:
        """Orders not yet finished and committed."""
        with self._cond:
            return [s for s in self._orders.values() if not s.final_committed]

    def unfinished(self) -> int:
        """Generations of live orders not yet finished (queued or running)."""
        with self._cond:
            return sum(max(0, s.total - s.finished) for s in self._orders.values() if s.final_status is None)
