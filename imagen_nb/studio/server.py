"""The host's API server: the REST routes, the client's calls and the event stream, on Tornado.

It runs on a thread of its own with its own event loop (a notebook kernel's loop stays free),
bound to 127.0.0.1 on a free port. Every request must carry ``Authorization: Bearer <token>``
and come from a loopback address. Studio calls run on a thread pool (each thread gets its own
DuckDB cursor), never on the loop.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import hmac
import ipaddress
import json
import logging
import math
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable

import tornado.httpserver
import tornado.iostream
import tornado.netutil
import tornado.web

from ..core.errors import ImagenError
from . import wire
from .rest import API_PREFIX, ROUTES, Call, Raw, Reply, Route, openapi
from .calls import PID_HEADER, as_caller, call_with_warnings
from .hosting import LOOPBACK_NAMES, TOKEN_FILE, Endpoint, write_token

if TYPE_CHECKING:
    from .local import LocalStudio

log = logging.getLogger(__name__)

def status_of(exc: BaseException) -> int:
    """The HTTP status an error answers with."""
    if isinstance(exc, (LookupError,)):
        return 404
    if isinstance(exc, TimeoutError):
        return 504
    if isinstance(exc, (ValueError, TypeError)):
        return 400
    if isinstance(exc, ImagenError):
        return 409
    return 500


def is_loopback(ip: str) -> bool:
    """True for 127.0.0.0/8, ::1 and IPv4-mapped loopback addresses."""
    try:
        addr = ipaddress.ip_address(ip.split("%")[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_loopback


class _Handler(tornado.web.RequestHandler):
    """Checks the address and the token, answers errors as JSON."""

    def initialize(self, api: "ApiServer") -> None:
        self.api = api

    def prepare(self) -> None:
        if not is_loopback(self.request.remote_ip or "") and not self.api.password:
            self._refuse(403, "Forbidden", "this studio host answers loopback addresses only")
            return
        header = self.request.headers.get("Authorization", "")
        token = header[7:].strip().encode() if header.lower().startswith("bearer ") else b""
        accepted = [self.api.token] + ([self.api.password] if self.api.password else [])
        # compare with every accepted secret (no early exit tells which one was close)
        if not token or not sum(hmac.compare_digest(token, s.encode()) for s in accepted):
            self.set_header("WWW-Authenticate", 'Bearer realm="imagen-nb"')
            self._refuse(401, "Unauthorized", "send Authorization: Bearer <token>; the token is in "
                                              "<home>/host.token (readable by the home's owner only)")

    def _refuse(self, status: int, kind: str, message: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(wire.dumps({"error": {"type": kind, "message": message}}))

    def reply(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(wire.dumps(data))

    def fail(self, exc: BaseException, route: Route | None = None) -> None:
        status = (route.status_of(exc) if route is not None else None) or status_of(exc)
        if status == 500:
            log.error("studio host: %s %s failed", self.request.method, self.request.path, exc_info=exc)
        self.reply({"error": wire.encode_error(exc)}, status)

    def body_json(self) -> Any:
        if not self.request.body:
            return None
        try:
            return json.loads(self.request.body)
        except ValueError:
            raise ValueError("the request body is not JSON") from None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(wire.dumps({"error": {"type": "HTTPError", "message": self._reason}}))

    def check_xsrf_cookie(self) -> None:  # the token is not a cookie: no cross-site request carries it
        pass


class _RouteHandler(_Handler):
    def initialize(self, api: "ApiServer", routes: dict[str, Route]) -> None:
        super().initialize(api)
        self.routes = routes

    async def _serve(self, **path: str) -> None:
        route = self.routes.get(self.request.method or "")
        if route is None:
            raise tornado.web.HTTPError(405)
        try:
            call = Call(path=path, query={k: self.get_query_argument(k) for k in self.request.query_arguments},
                        body=self.body_json())
            result = await self.api.run(as_caller, None, route.run, self.api.studio, call)
        except Exception as exc:
            self.fail(exc, route)
            return
        if isinstance(result, Raw):
            self.set_header("Content-Type", result.media_type)
            self.finish(result.data)
        elif isinstance(result, Reply):
            for name, value in result.headers.items():
                self.set_header(name, value)
            self.reply(result.data, result.status)
        else:
            self.reply(result, route.status)

    get = post = put = delete = _serve


class _CallHandler(_Handler):
    """``POST /api/v1/call/<name>``: the Python client's calls, values tagged (see :mod:`.wire`)."""

    def _client_pid(self) -> int | None:
        """The calling client's pid, which it sends in ``X-Imagen-Nb-Pid`` (None when absent or not a number)."""
        text = self.request.headers.get(PID_HEADER, "")
        return int(text) if text.isdigit() and len(text) <= 10 else None

    async def post(self, name: str) -> None:
        studio = self.api.studio
        try:
            body = self.body_json() or {}
            args = wire.decode(body.get("args", []), studio)
            kwargs = wire.decode(body.get("kwargs", {}), studio)
            result, given = await self.api.run(call_with_warnings, studio, name, args, kwargs, self._client_pid())
            self.reply({"result": wire.encode(result, studio.home), **({"warnings": given} if given else {})})
        except Exception as exc:
            self.fail(exc)


class _OpenApiHandler(_Handler):
    def get(self) -> None:
        self.reply(openapi(self.api.url))


class _EventsHandler(_Handler):
    """``GET /api/v1/events``: server-sent events, one per studio event."""

    async def get(self) -> None:
        loop = asyncio.get_running_loop()
        pending: collections.deque = collections.deque()
        ready = asyncio.Event()
        woken = [False]  # a wake-up is on its way to the loop

        def forward(event: Any) -> None:
            # On a worker's thread: queue it, and wake the loop once per batch rather than per
            # event (a wake-up per step event costs the workers the GIL over and over).
            pending.append(event)
            if not woken[0]:
                woken[0] = True
                try:
                    loop.call_soon_threadsafe(ready.set)
                except RuntimeError:  # the server's loop is gone: the stream ends with it
                    pass

        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        self._pending, self._ready = pending, ready
        subscription = self.api.studio.bus.subscribe(forward)
        self.api.streams.add(self)
        try:
            self.write(f"event: hello\ndata: {wire.dumps({'pid': os.getpid()})}\n\n")
            await self.flush()
            while True:
                try:
                    await asyncio.wait_for(ready.wait(), 15)
                except asyncio.TimeoutError:
                    self.write(": ping\n\n")
                    await self.flush()
                    continue
                # Let the batch fill for a moment: one wake-up, one encode pass and one write for
                # every event of the window, instead of the loop taking the GIL from the workers
                # once per event while an order streams thousands of them.
                await asyncio.sleep(BATCH_WINDOW)
                ready.clear()
                woken[0] = False  # from here on a new event wakes the loop again
                chunks, event = [], None
                while pending:
                    event = pending.popleft()
                    if event is _END:
                        break
                    chunks.append(_sse(event))
                if chunks:
                    self.write("".join(chunks))
                    await self.flush()
                if event is _END:
                    return
        except tornado.iostream.StreamClosedError:
            pass
        finally:
            subscription.close()
            self.api.streams.discard(self)
            if not self._finished:
                self.finish()

    def on_connection_close(self) -> None:
        pending = getattr(self, "_pending", None)
        if pending is not None:
            pending.append(_END)
            self._ready.set()


_END = object()

#: How long the event stream lets a batch of events gather before it writes them (seconds).
BATCH_WINDOW = 0.01


_FIELDS: dict[type, tuple[str, ...]] = {}
_SCALARS = frozenset({str, int, bool, type(None)})


def _sse(event: Any) -> str:
    """One server-sent event for a studio event (events hold plain values: no deep copy)."""
    cls = type(event)
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    fields = {name: getattr(event, name) for name in names}
    for value in fields.values():  # the usual event is all scalars: JSON as it stands
        if type(value) not in _SCALARS and not (type(value) is float and math.isfinite(value)):
            fields = wire.plain(fields)
            break
    return f"event: {cls.__name__}\ndata: {wire.dumps(fields)}\n\n"


def _log_request(handler: tornado.web.RequestHandler) -> None:
    # Refusals and lookups are answers, not trouble: a notebook's output stays quiet.
    if handler.get_status() >= 500:
        log.warning("studio host: %s %s -> %s", handler.request.method, handler.request.path, handler.get_status())


def _pattern(path: str) -> str:
    # /models/{model_id} may hold slashes (fal:fal-ai/fast-sdxl), a download's {ref} too (a URL not
    # URL-encoded: its query would be lost, but its path works)
    def part(m: re.Match) -> str:
        return f"(?P<{m.group(1)}>.+)" if m.group(1) in ("model_id", "ref") else f"(?P<{m.group(1)}>[^/]+)"

    return API_PREFIX + re.sub(r"\{(\w+)\}", part, path) + "$"


class ApiServer:
    """Serves a local studio on ``address`` (127.0.0.1) at a free port, on a thread of its own.

    Args:
        studio: the hosting studio.
        token: what every request must carry as ``Authorization: Bearer <token>``.
        address: where to listen; beyond loopback only with ``password``.
        password: accepted as a bearer token too, the only way in from another machine.
    """

    def __init__(self, studio: "LocalStudio", token: str, address: str = "127.0.0.1", port: int = 0,
                 password: str | None = None):
        self.studio = studio
        self.token = token
        self.password = password
        self.address = address
        self.port = port
        self.streams: set[_EventsHandler] = set()
        self.pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="imagen-nb-host")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._http: tornado.httpserver.HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (the address it listens on)."""
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self.port}"

    def application(self) -> tornado.web.Application:
        """The Tornado application: every REST route, the calls, the events, the OpenAPI document."""
        by_path: dict[str, dict[str, Route]] = {}
        for route in ROUTES:
            by_path.setdefault(_pattern(route.path), {})[route.method] = route
        handlers: list[Any] = [
            (API_PREFIX + r"/openapi\.json$", _OpenApiHandler, {"api": self}),
            (API_PREFIX + r"/events$", _EventsHandler, {"api": self}),
            (API_PREFIX + r"/call/([\w.]+)$", _CallHandler, {"api": self}),
        ]
        # A literal path (/orders) must win over a pattern of the same depth: longest first.
        for pattern, routes in sorted(by_path.items(), key=lambda kv: ("(?P" in kv[0], -len(kv[0]))):
            handlers.append((pattern, _RouteHandler, {"api": self, "routes": routes}))
        return tornado.web.Application(handlers, default_handler_class=_NotFound,
                                       default_handler_args={"api": self}, log_function=_log_request)

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a blocking studio call on the pool."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, lambda: fn(*args))

    def start(self) -> str:
        """Bind and serve; return the URL."""
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), name="imagen-nb-host", daemon=True)
        self._thread.start()
        ready.wait(30)
        if self._error is not None:
            raise ImagenError(f"cannot serve the studio on {self.address}: {self._error}") from self._error
        return self.url

    def _serve(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            sockets = tornado.netutil.bind_sockets(self.port, self.address)
            self._http = tornado.httpserver.HTTPServer(self.application())
            self._http.add_sockets(sockets)
            self.port = sockets[0].getsockname()[1]
        except BaseException as exc:
            self._error = exc
            ready.set()
            loop.close()
            return
        self._loop = loop
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    def stop(self, timeout: float = 5) -> None:
        """Close every connection (clients notice at once) and stop the thread."""
        loop, http = self._loop, self._http
        if loop is None or http is None or loop.is_closed():
            return

        async def close() -> None:
            http.stop()
            for stream in list(self.streams):
                stream.on_connection_close()
            try:
                await asyncio.wait_for(http.close_all_connections(), timeout)
            except (asyncio.TimeoutError, Exception):
                log.warning("studio host: some connections did not close in %s s", timeout)
            loop.stop()

        try:
            asyncio.run_coroutine_threadsafe(close(), loop)
        except RuntimeError:
            return
        if self._thread is not None:
            self._thread.join(timeout + 2)
        self.pool.shutdown(wait=False, cancel_futures=True)
        self._loop = None


class _NotFound(_Handler):
    def prepare(self) -> None:
        super().prepare()
        if not self._finished:
            self._refuse(404, "NotFound", f"no route {self.request.path}; see {API_PREFIX}/openapi.json")


def serve_home(studio: "LocalStudio", address: str = "127.0.0.1", password: str | None = None) -> Endpoint:
    """Serve ``studio`` on a free port of ``address`` and announce it in the home's lock file."""
    token, path = write_token(studio.home)
    server = ApiServer(studio, token, address=address, password=password)
    url = server.start()
    local = url if address in LOOPBACK_NAMES else f"http://127.0.0.1:{server.port}"  # clients here use loopback
    studio.catalog.announce(json.dumps({"url": local, "token_file": TOKEN_FILE}))
    return Endpoint(url, path, server, studio)
