"""The message protocol between a panel's JavaScript and its Python controller.

Every panel talks over custom messages only (never synced traits), so the same controller
serves an anywidget in JupyterLab and a Panel component under ``imagen-nb serve``:

- JS → Python, a request: ``{"panel": "gallery", "rid": 7, "method": "page", "args": {...}}``
  with optional binary buffers (a file the user picked).
- Python → JS, the reply: ``{"panel": "gallery", "reply": 7, "ok": true, "result": ...}`` or
  ``{"panel": ..., "reply": 7, "ok": false, "error": {"type", "message", "field", "column"}}`` (a
  ``RowsError`` adds ``row`` and ``column_name``);
  images travel as buffers, referenced from the result by index (``"buf": 0``).
- Python → JS, a push: ``{"panel": "production", "event": "update", "data": ...}``.

A controller subscribes to the Studio's event bus. Worker threads only mark what changed; a
:class:`Throttle` runs the controller's :meth:`Controller.flush` on the UI loop at most
``1 / interval`` times a second (DESIGN §5), so a 1,000-generation order cannot flood the page.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

from ..core.errors import ImagenError, OrderTooLarge, SmartParameterError, ValidationError
from ..core.rows import RowsError
from ..core.records import Event

log = logging.getLogger(__name__)


class Transport(Protocol):
    """How a controller reaches its page: the anywidget comm or a Panel component."""

    def send(self, content: dict, buffers: Sequence[bytes] = ()) -> None:
        """Send one message (JSON-able content plus binary buffers) to every view."""

    def schedule(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the UI's own loop (the kernel's IO loop, or the Bokeh document's)."""


@dataclass
class Reply:
    """A request's result with binary buffers; the result refers to them by index."""

    result: Any = None
    buffers: list[bytes] = field(default_factory=list)

    def add(self, data: bytes) -> int:
        """Append a buffer and return its index, to put in the result (``"buf": i``)."""
        self.buffers.append(bytes(data))
        return len(self.buffers) - 1


class PanelRequestError(ImagenError, ValueError):
    """A request from a panel cannot be served; ``field`` names the control that caused it."""

    def __init__(self, message: str, field: str | None = None):
        self.field = field
        super().__init__(message)


def need_id(value: Any, field: str, message: str) -> str:
    """``value`` when it is a non-empty string (an id the page sent); else a
    :class:`PanelRequestError` at ``field`` that says ``message``."""
    if not isinstance(value, str) or not value:
        raise PanelRequestError(message, field=field)
    return value


def too_large_text(exc: OrderTooLarge) -> str:
    """An over-the-limit message for a panel, where ``limit=…`` cannot be passed: what to do there."""
    text = str(exc).replace(" — pass limit=… to raise it", "")
    if not exc.count:
        return text
    return f"{text}. Narrow a group, or raise the studio's limit in a cell: studio.limit = {exc.count:_}"


def error_payload(exc: BaseException) -> dict:
    """What a panel shows for an error: its type, message, and the field (and column) at fault."""
    payload: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc), "field": None, "column": None}
    if isinstance(exc, OrderTooLarge):
        payload["message"] = too_large_text(exc)
    elif isinstance(exc, SmartParameterError):
        payload.update(field=exc.param, column=exc.column or None)
    elif isinstance(exc, ValidationError):
        payload.update(field=exc.param or None, message=exc.message)
        if isinstance(exc, RowsError):  # an order from rows: the table's row and column at fault
            payload.update(row=exc.row, column_name=exc.column_name)
    elif isinstance(exc, PanelRequestError):
        payload["field"] = exc.field
    elif isinstance(exc, KeyError) and exc.args:
        payload["message"] = str(exc.args[0])
    return payload


class Throttle:
    """Coalesce pokes from any thread into calls of ``fn`` on the UI loop, at most one per interval."""

    def __init__(self, fn: Callable[[], None], schedule: Callable[[Callable[[], None]], None],
                 interval: float = 0.1):
        self.fn = fn
        self.schedule = schedule
        self.interval = interval
        self.calls = 0
        self._lock = threading.Lock()
        self._pending = False
        self._last = 0.0
        self._closed = False

    def poke(self) -> None:
        """Ask for a call of ``fn`` soon; pokes before it runs are merged into that one call."""
        with self._lock:
            if self._pending or self._closed:
                return
            self._pending = True
            delay = max(0.0, self._last + self.interval - time.monotonic())
        if delay <= 0:
            self._hand_over()
        else:
            timer = threading.Timer(delay, self._hand_over)
            timer.daemon = True
            timer.start()

    def _hand_over(self) -> None:
        try:
            self.schedule(self._run)
        except Exception:  # the loop is gone (kernel shutting down): nothing to update any more
            log.debug("could not schedule a panel update", exc_info=True)
            with self._lock:
                self._pending = False

    def _run(self) -> None:
        with self._lock:
            self._pending = False
            self._last = time.monotonic()
            if self._closed:
                return
        self.calls += 1
        try:
            self.fn()
        except Exception:
            log.exception("a panel update failed")

    def close(self) -> None:
        """Stop calling ``fn``; pending pokes are dropped."""
        with self._lock:
            self._closed = True


class Controller:
    """The Python half of one panel: answers its requests and pushes live updates.

    Subclasses set :attr:`name`, define ``rpc_<method>(self, **args)`` for each request the
    JavaScript makes (returning a JSON-able value or a :class:`Reply`), and override
    :meth:`on_event` / :meth:`flush` to follow the Studio's events.
    """

    name = ""
    #: seconds between two live updates at most (≤ 10 per second, DESIGN §5)
    interval = 0.1

    def __init__(self, studio):
        self.studio = studio
        self.transport: Transport | None = None
        self.throttle: Throttle | None = None
        self._subscription = None
        self.sent = 0  # messages sent to the page, for the benchmarks

    # -- wiring ----------------------------------------------------------------------------
    def attach(self, transport: Transport) -> None:
        """Connect to a page and start following the Studio's events."""
        self.transport = transport
        self.throttle = Throttle(self.flush, transport.schedule, self.interval)
        if type(self).on_event is not Controller.on_event:
            self._subscription = self.studio.subscribe(self._on_bus_event)

    def close(self) -> None:
        """Stop following events (the page may stay, but it no longer updates)."""
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None
        if self.throttle is not None:
            self.throttle.close()

    def _on_bus_event(self, event: Event) -> None:
        # Runs on a worker or recorder thread: record, never touch the page here.
        if self.on_event(event):
            self.throttle.poke()

    # -- requests --------------------------------------------------------------------------
    def handle(self, content: dict, buffers: Sequence[bytes] = ()) -> None:
        """Serve one request from the page and send the reply (errors are replies too)."""
        rid = content.get("rid")
        method = content.get("method", "")
        fn = getattr(self, f"rpc_{method}", None)
        try:
            if fn is None:
                raise PanelRequestError(f"the {self.name} panel has no request {method!r}; "
                                        "reload the page if imagen-nb was upgraded")
            args = dict(content.get("args") or {})
            if buffers:
                args["buffers"] = [bytes(b) for b in buffers]
            out = fn(**args)
        except Exception as exc:  # every failure goes back to the control that asked
            if not isinstance(exc, (ImagenError, ValueError, LookupError, TypeError)):
                log.exception("%s panel request %s failed", self.name, method)
            self._send({"panel": self.name, "reply": rid, "ok": False, "error": error_payload(exc)})
            return
        reply = out if isinstance(out, Reply) else Reply(out)
        self._send({"panel": self.name, "reply": rid, "ok": True, "result": reply.result}, reply.buffers)

    def push(self, event: str, data: Any = None, buffers: Sequence[bytes] = ()) -> None:
        """Send an unrequested update (``event``) to the page."""
        self._send({"panel": self.name, "event": event, "data": data}, buffers)

    def _send(self, content: dict, buffers: Sequence[bytes] = ()) -> None:
        if self.transport is None:
            return
        self.sent += 1
        self.transport.send(content, list(buffers))

    # -- live updates ----------------------------------------------------------------------
    def on_event(self, event: Event) -> bool:
        """Note a Studio event (on a worker thread); return True when the page needs an update."""
        return False

    def flush(self) -> None:
        """Send what changed since the last flush (runs on the UI loop, throttled)."""
