"""A client of the process hosting a home: the same Studio surface, over the host's loopback API.

Calls go to ``POST /api/v1/call/<name>`` with tagged JSON (:mod:`.wire`); events arrive on
``GET /api/v1/events`` (server-sent events) and are published on the client's own event bus,
so ``Order.progress`` and the panels work live here as in the host. Product files are read
from the home both processes share.

When the host goes away the event stream ends at once: the client then takes the home over
(it becomes the host, recovery resumes the interrupted orders) or connects to whichever
client took it over first; where neither can be done it says why in one line.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
import warnings
from collections.abc import MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import httpx

from ..core import records
from ..core import training as training_events
from ..core.errors import CatalogBusy, ImagenError
from ..engine.bus import EventBus, Subscription
from . import wire
from .calls import PID_HEADER, call_studio, warn_again
from .hosting import HOST_WAIT, HostInfo, alive, host_info, not_served, read_token
from .surface import HANDLE_API, USER_API, VIEWS, Studio

if TYPE_CHECKING:
    from .downloads import ModelImport
    from .local import LocalStudio

log = logging.getLogger(__name__)

#: Calls that change nothing: safe to send again when the host went away mid-call.
READS = frozenset({
    "models", "model", "expand", "get_order", "orders", "product", "products", "gallery", "gallery_count",
    "generation", "projects", "collections", "sql", "wait_idle", "order_record", "order_generations",
    "order_products", "wait_order", "finished_count", "project_record", "collection_product_ids",
    "tokens.all", "tokens.get", "presets.all", "presets.get", "sets.all", "sets.get", "sets.listing", "sets.saved",
    "loras", "grid", "trash", "paused", "civitai_search", "civitai_resolve", "civitai_files", "upscalers", "health",
    "check_training", "training_run", "training_runs", "training_record", "training_metrics", "training_checkpoints",
    "training_samples", "wait_training", *(f"views.{name}" for name in VIEWS),
    "refinements", "get_refinement", "lineage", "scores", "refinement_record", "refinement_rounds",
    "refinement_items", "wait_refinement", "download_record", "download_records", "wait_download",
})

_CONNECT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout)
_LOST_ERRORS = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadTimeout)
_ANNOUNCED: set[tuple[str, int | None]] = set()


class HostUnreachable(ImagenError):
    """The host the lock file names does not answer (it is closing, or was killed)."""


def _describe(pid: int | None) -> str:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except (OSError, TypeError):
        return f"pid {pid}"
    return f"pid {pid} ({cmd[:60]})" if cmd else f"pid {pid}"


class RemoteMapping(MutableMapping):
    """``studio.tokens`` / ``studio.presets`` of a client: each access asks the host."""

    def __init__(self, client: "StudioClient", which: str):
        self._client = client
        self._which = which

    def _all(self) -> dict:
        return self._client._call(f"{self._which}.all")

    def __getitem__(self, name: str) -> Any:
        return self._client._call(f"{self._which}.get", name)

    def __setitem__(self, name: str, value: Any) -> None:
        self._client._call(f"{self._which}.set", name, value)

    def __delitem__(self, name: str) -> None:
        self._client._call(f"{self._which}.delete", name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __repr__(self) -> str:
        return f"{self._which.title()}({self._all()!r})"


class RemoteSets(RemoteMapping):
    """``studio.sets`` of a client: saved sets (the examples included), asked of the host."""

    def __contains__(self, name: object) -> bool:
        try:
            self[name]  # type: ignore[index]
        except (KeyError, LookupError):
            return False
        return True

    def listing(self):
        """The sets there are (stored and examples), one row each: see ``Sets.listing``."""
        return self._client._call("sets.listing")

    def saved(self) -> list[str]:
        """The names of the sets saved in the home: see ``Sets.saved``."""
        return self._client._call("sets.saved")


class RemoteViews:
    """``studio.views`` of a client: the panels' read models, asked of the host."""

    def __init__(self, client: "StudioClient"):
        self._client = client


def _remote_view(name: str) -> Callable[..., Any]:
    from .views import Views

    def call(self: RemoteViews, *args: Any, **kwargs: Any) -> Any:
        return self._client._call(f"views.{name}", *args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = getattr(getattr(Views, name, None), "__doc__", None)
    return call


for _name in VIEWS:
    setattr(RemoteViews, _name, _remote_view(_name))


class StudioClient(Studio):
    """A Studio whose home is hosted by another process; same methods as the host's.

    Made by ``inb.Studio(home)`` when another process hosts the home; not made directly.

    Args:
        home: the home folder.
        info: where the host listens (from the lock file).
        options: the options given to ``Studio(...)``, kept to take the home over with them.
    """

    is_host = False

    def __init__(self, home: Path, info: HostInfo, options: dict[str, Any]):
        self.home = Path(home)
        self.limit = int(options.get("limit", 1000))
        self.bus = EventBus()
        self.tokens = RemoteMapping(self, "tokens")
        self.presets = RemoteMapping(self, "presets")
        self.sets = RemoteSets(self, "sets")
        self.views = RemoteViews(self)
        self._options = dict(options)
        self._local: LocalStudio | None = None
        self._failure: BaseException | None = None
        self._gone = threading.Event()
        self._closing = False
        self._recover_lock = threading.RLock()
        self._clients: list[httpx.Client] = []
        self._clients_lock = threading.Lock()
        self._connect(info)
        if options.get("providers"):
            warnings.warn(f"providers= settings apply to the process hosting {self.home} (pid {self.host_pid}); "
                          "this process is its client, so they are kept only for a takeover. Give them to "
                          "the Studio that hosts the home.", stacklevel=3)

    # -- connection ------------------------------------------------------------------------
    def _connect(self, info: HostInfo) -> None:
        token = read_token(self.home, info)
        if not token:
            raise HostUnreachable(f"the host of {self.home} has no token file (it is closing)")
        self._info, self._token = info, token
        self._drop_clients()
        try:
            host = self._http().get("/api/v1/host", timeout=5)
        except httpx.HTTPError as exc:
            raise HostUnreachable(f"the host of {self.home} at {info.url} does not answer: {exc}") from exc
        if host.status_code != 200:
            raise HostUnreachable(f"the host of {self.home} refused this process ({host.status_code})")
        self.host_pid = int(host.json()["pid"])
        ready = threading.Event()
        self._events = threading.Thread(target=self._listen, args=(info.url, ready), daemon=True,
                                        name="imagen-nb-client-events")
        self._events.start()
        ready.wait(10)
        key = (str(self.home), self.host_pid)
        if key not in _ANNOUNCED:
            _ANNOUNCED.add(key)
            print(f"imagen-nb: connected to the studio hosted by {_describe(self.host_pid)} on {self.home}",
                  file=sys.stderr)

    def _http(self) -> httpx.Client:
        # One client for every thread (httpx's connection pool is thread-safe): the panels call
        # from short-lived timer threads, and a client per thread would leak connections.
        with self._clients_lock:
            client = self._clients[-1] if self._clients else None
            if client is None or client.is_closed or str(client.base_url).rstrip("/") != self._info.url:
                client = httpx.Client(base_url=self._info.url, headers={"Authorization": f"Bearer {self._token}",
                                                                        PID_HEADER: str(os.getpid())},
                                      timeout=httpx.Timeout(None, connect=5), trust_env=False,
                                      limits=httpx.Limits(max_connections=32, max_keepalive_connections=8))
                self._clients.append(client)
            return client

    def _drop_clients(self) -> None:
        with self._clients_lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()

    def _listen(self, url: str, ready: threading.Event) -> None:
        """Read the host's event stream and publish each event here, until it ends."""
        try:
            with httpx.stream("GET", f"{url}/api/v1/events", headers={"Authorization": f"Bearer {self._token}"},
                              timeout=httpx.Timeout(60, connect=5), trust_env=False) as response:
                self._stream = response
                name, data = None, None
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        name = line[6:].strip()
                    elif line.startswith("data:"):
                        data = line[5:].strip()
                    elif line == "" and name is not None:
                        if name == "hello":
                            ready.set()
                        else:
                            self._publish(name, data)
                        name, data = None, None
        except (httpx.HTTPError, OSError, RuntimeError):
            pass
        finally:
            ready.set()
        if self._closing or self._info.url != url:
            return
        self._gone.set()  # noticed at once: the next call (or this thread, now) takes over
        threading.Thread(target=self._recover, daemon=True, name="imagen-nb-takeover").start()

    def _publish(self, name: str, data: str | None) -> None:
        cls = getattr(records, name, None) or getattr(training_events, name, None)  # LoRA training's too
        if not (isinstance(cls, type) and issubclass(cls, records.Event)):
            return
        try:
            self.bus.publish(cls(**json.loads(data or "{}")))
        except (TypeError, ValueError):
            log.warning("imagen-nb client: cannot read event %s %s", name, data)

    # -- the host went away ----------------------------------------------------------------
    def _recover(self) -> None:
        """Take the home over, or connect to the process that did; remember why not otherwise."""
        from .local import LocalStudio

        with self._recover_lock:
            if self._closing or self._local is not None or not self._gone.is_set():
                return
            dead = self._info
            deadline = time.monotonic() + HOST_WAIT
            while True:
                try:
                    local = LocalStudio(self.home, **self._options)
                except CatalogBusy as exc:
                    info = host_info(self.home)
                    if info is not None and (info.url != dead.url or alive(info.pid) and info.pid != dead.pid):
                        try:
                            self._connect(info)
                            self._gone.clear()
                            return
                        except (HostUnreachable, ImagenError):
                            pass
                    if time.monotonic() > deadline:
                        self._failure = not_served(self.home, exc)
                        return
                    time.sleep(0.1)
                    continue
                except Exception as exc:
                    self._failure = ImagenError(
                        f"the host of {self.home} ({_describe(dead.pid)}) went away and this process could not "
                        f"take the home over: {exc}")
                    return
                if self._closing:  # closed while the takeover ran: release the home again
                    local.close()
                    return
                self._drop_clients()
                local.bus.subscribe(self.bus.publish)
                self._local = local
                self._gone.clear()
                resumed = len(local.recovery.resumed_orders)
                print(f"imagen-nb: the host of {self.home} (pid {dead.pid}) went away; this process hosts it now"
                      f" ({resumed} unfinished order(s) resumed)", file=sys.stderr)
                return

    def _call(self, name: str, /, *args: Any, **kwargs: Any) -> Any:
        """Run ``name`` on the host (or on this process, once it took the home over)."""
        if self._closing:
            raise ImagenError(f"this Studio on {self.home} is closed; open a new one: inb.Studio()")
        if self._local is None and self._gone.is_set():
            self._recover()
        if self._local is not None:
            return call_studio(self._local, name, list(args), kwargs)
        if self._failure is not None and self._gone.is_set():
            raise self._failure
        body = wire.dumps({"args": wire.encode(list(args), self.home), "kwargs": wire.encode(kwargs, self.home)})
        try:
            response = self._http().post(f"/api/v1/call/{name}", content=body,
                                         headers={"Content-Type": "application/json"})
        except _CONNECT_ERRORS:
            self._gone.set()  # nothing was sent: safe to run it wherever the home is now
            return self._call(name, *args, **kwargs)
        except _LOST_ERRORS as exc:
            self._gone.set()
            if name in READS:
                return self._call(name, *args, **kwargs)
            self._recover()
            raise ImagenError(
                f"the host of {self.home} ({_describe(self._info.pid)}) went away during {name}(): it may or may "
                f"not have been done. {self._where_now()} Look before repeating it (studio.orders(), "
                "studio.gallery()).") from exc
        if response.status_code == 200:
            answer = response.json()
            warn_again(answer.get("warnings"))
            return wire.decode(answer["result"], self)
        try:
            error = response.json()["error"]
        except (ValueError, KeyError, TypeError):
            raise ImagenError(f"the host of {self.home} answered {response.status_code} to {name}()") from None
        raise wire.decode_error(error)

    def _where_now(self) -> str:
        if self._local is not None:
            return "This process hosts the home now and has resumed unfinished orders."
        if self._failure is not None:
            return str(self._failure)
        return f"Another process hosts the home now ({_describe(self._info.pid)})."

    # -- the surface -----------------------------------------------------------------------
    def add_model(self, path: str | os.PathLike, name: str | None = None, *, for_model: str | None = None,
                  progress: Callable[[int, int | None], None] | None = None, wait: bool = True) -> "str | ModelImport":
        """Register a local model, or download a checkpoint or LoRA from civitai (see ``LocalStudio.add_model``)."""
        # A civitai download runs in the host: this process watches it (progress from the host's
        # ModelDownload events) and cancels it on Ctrl-C, as a blocking call in the host would.
        from .downloads import ModelImport

        sub, last = None, [-1]
        if progress is not None and wait:
            # Listening before the host starts: a short download may be over before its answer comes back.
            report, ref = progress, str(path).strip()

            def on_event(event: Any) -> None:
                if isinstance(event, records.ModelDownload) and event.ref == ref and event.state == "downloading":
                    last[0] = event.done
                    report(event.done, event.total)

            sub = self.subscribe(on_event)
        try:
            started = self._call("add_model", path, name, for_model=for_model, wait=False)
            if not isinstance(started, ModelImport) or not wait:
                return started
            result = started.wait()
            if sub is not None and progress is not None:
                # the events travel apart from the answer and the last ones may still be on their way:
                # stop listening (no late, smaller figure after this) and report the end once
                sub.close()
                sub = None
                row = started.record()
                if row["total"] is not None and last[0] != row["total"]:
                    progress(row["total"], row["total"])
            return result
        finally:
            if sub is not None:
                sub.close()

    def subscribe(self, callback: Callable[[records.Event], None]) -> Subscription:
        """Receive every event of the host (progress, products, outcomes) on a thread of this process."""
        return self.bus.subscribe(callback)

    def wait_order(self, order_id: str, timeout: float | None) -> bool:
        """Block until the order is finished; False after ``timeout`` s. Waits in short rounds,
        so a host that goes away is noticed and the wait goes on wherever the home is then."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = 5.0 if deadline is None else min(5.0, max(0.0, deadline - time.monotonic()))
            if self._call("wait_order", order_id, left):
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False

    def wait_training(self, run_id: str, timeout: float | None = None) -> bool:
        """Block until a training run stops on the host; False after ``timeout`` s (in short rounds,
        like :meth:`wait_order`)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = 5.0 if deadline is None else min(5.0, max(0.0, deadline - time.monotonic()))
            if self._call("wait_training", run_id, left):
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no order is running on the host; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = 5.0 if deadline is None else min(5.0, max(0.0, deadline - time.monotonic()))
            if self._call("wait_idle", left):
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False

    @property
    def paused(self) -> str | None:
        """Why the host's queue is paused (its home's disk is full), or None while it runs."""
        return self._call("paused")

    @property
    def hosted_by(self) -> int:
        """The pid of the process hosting this home (this one after a takeover)."""
        return os.getpid() if self._local is not None else self.host_pid

    @property
    def url(self) -> str:
        """Where the host serves its API."""
        return self._info.url

    def close(self, timeout: float = 30) -> None:
        """Disconnect from the host (or, after a takeover, release the home)."""
        if self._closing:
            return
        self._closing = True
        stream = getattr(self, "_stream", None)
        if stream is not None:
            try:
                stream.close()
            except Exception:
                pass
        self._drop_clients()
        if self._local is not None:
            self._local.close(timeout)

    def __repr__(self) -> str:
        if self._local is not None:
            return f"<Studio {self.home} (open, host after a takeover)>"
        state = "closed" if self._closing else "open"
        return f"<Studio {self.home} ({state}, client of pid {self.host_pid} at {self._info.url})>"


def _remote(name: str) -> Callable[..., Any]:
    from .local import LocalStudio

    def call(self: StudioClient, *args: Any, **kwargs: Any) -> Any:
        return self._call(name, *args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = getattr(getattr(LocalStudio, name, None), "__doc__", None)
    return call


for _name in USER_API + HANDLE_API:
    if _name not in StudioClient.__dict__:
        setattr(StudioClient, _name, _remote(_name))

__all__ = ["HostUnreachable", "READS", "RemoteMapping", "RemoteSets", "RemoteViews", "StudioClient"]
