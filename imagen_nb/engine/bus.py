"""The event bus: workers publish immutable events; panels and scripts subscribe."""

from __future__ import annotations

import logging
import queue
import threading
from typing import Callable

from ..core.records import Event

log = logging.getLogger(__name__)

Callback = Callable[[Event], None]


class Subscription:
    """Returned by :meth:`EventBus.subscribe`; call :meth:`close` (or use ``with``) to stop."""

    def __init__(self, bus: "EventBus", callback: Callback):
        self._bus = bus
        self.callback = callback

    def close(self) -> None:
        """Stop receiving events."""
        self._bus._remove(self)

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class EventBus:
    """Synchronous fan-out of events to subscribers.

    Callbacks run on the publishing thread (a worker or the recorder), so they must be quick
    and must never touch widgets: queue the event and apply it on the UI's own loop. An
    exception in a callback is logged and does not reach the publisher.
    """

    def __init__(self) -> None:
        self._subs: tuple[Subscription, ...] = ()
        self._lock = threading.Lock()

    def subscribe(self, callback: Callback) -> Subscription:
        """Call ``callback(event)`` for every event published from now on."""
        sub = Subscription(self, callback)
        with self._lock:
            self._subs = (*self._subs, sub)
        return sub

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            self._subs = tuple(s for s in self._subs if s is not sub)

    def listen(self, predicate: Callable[[Event], bool] | None = None) -> "Listener":
        """A subscription that queues matching events for a consumer thread to ``get``."""
        return Listener(self, predicate)

    def publish(self, event: Event) -> None:
        """Deliver ``event`` to every subscriber."""
        for sub in self._subs:  # a snapshot: subscribing while publishing is safe
            try:
                sub.callback(event)
            except Exception:  # a broken subscriber must not break a worker
                log.exception("event subscriber %r failed on %r", sub.callback, event)


class Listener(Subscription):
    """Queues events (optionally filtered) for iteration on another thread."""

    def __init__(self, bus: EventBus, predicate: Callable[[Event], bool] | None):
        self.queue: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._predicate = predicate

        def _put(event: Event) -> None:
            if predicate is None or predicate(event):
                self.queue.put(event)

        super().__init__(bus, _put)
        with bus._lock:
            bus._subs = (*bus._subs, self)

    def get(self, timeout: float | None = None) -> Event | None:
        """The next event, or None after ``timeout`` seconds."""
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None
