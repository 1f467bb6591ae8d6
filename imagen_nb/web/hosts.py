"""The Host and Origin values the served app answers to, and the gate that refuses the rest.

A browser page on another site may point a websocket or an ``<img>`` at the app, and a DNS
rebinding page reaches it under a name of the attacker's choosing (with a matching Origin).
Both are refused before any handler runs: every request must name one of the served
``host:port`` values in its ``Host`` header and, when it carries an ``Origin``, in that too.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Iterable
from urllib.parse import urlsplit

from tornado.httputil import HTTPServerRequest
from tornado.routing import Matcher, Rule
from tornado.web import Application, RequestHandler

#: Names of this machine's loopback interface: serving on one of them answers to all of them.
LOOPBACK = ("127.0.0.1", "localhost", "::1")
#: Bind addresses that mean "every interface".
EVERYWHERE = ("", "0.0.0.0", "::")


def _bracket(name: str) -> str:
    name = name.strip().lower().strip("[]")
    try:
        if ipaddress.ip_address(name).version == 6:
            return f"[{name}]"
    except ValueError:
        pass
    return name


def host_port(name: str, port: int) -> str:
    """``name:port`` as a browser writes it in ``Host``/``Origin`` (IPv6 in brackets, lower case)."""
    return f"{_bracket(name)}:{port}"


def _forms(name: str, port: int | None) -> set[str]:
    """Every way a browser may write ``name`` at ``port`` (no port: the default ports)."""
    if port is None:
        return {_bracket(name), host_port(name, 80), host_port(name, 443)}
    return {host_port(name, port)} | ({_bracket(name)} if port in (80, 443) else set())


def _split(entry: str) -> tuple[str, int | None]:
    """``"host[:port]"`` (IPv6 in brackets when a port follows) → (host, port or None)."""
    entry = entry.strip().lower()
    if entry.startswith("["):
        name, _, rest = entry[1:].partition("]")
        port = rest.removeprefix(":")
        return name, int(port) if port else None
    if entry.count(":") == 1:
        name, port = entry.split(":")
        return name, int(port)
    return entry, None  # a bare name, or a bare IPv6 address


def served_hosts(address: str, port: int, extra: Iterable[str] = ()) -> frozenset[str]:
    """The ``Host`` values the app at ``address:port`` answers to.

    Serving on a loopback name answers to all three of them (``::1`` included); serving on every
    interface answers to this machine's names and addresses; otherwise to ``address`` itself.
    ``extra`` are names a reverse proxy or a DNS name puts in front (``--allow-websocket-origin``):
    ``host:port``, or ``host`` alone for the default ports (what a browser sends for 80 and 443).
    """
    if address in LOOPBACK:
        names = set(LOOPBACK)
    elif address in EVERYWHERE:
        names = set(LOOPBACK) | _this_machine()
    else:
        names = {address}
    hosts = {form for n in names for form in _forms(n, port)}
    for entry in extra:
        try:
            name, given = _split(entry)
        except ValueError as exc:
            raise ValueError(f"--allow-websocket-origin {entry!r} is not HOST or HOST:PORT "
                             "(e.g. studio.example.org or studio.example.org:8443)") from exc
        if not name:
            raise ValueError(f"--allow-websocket-origin {entry!r} names no host")
        if name == "*":
            raise ValueError("--allow-websocket-origin '*' would let any web site drive this studio; "
                             "name the host (and port) the app is opened under")
        hosts |= _forms(name, given)
    return frozenset(hosts)


def _this_machine() -> set[str]:
    """This machine's names and the addresses of its interfaces (all of them when psutil is
    installed, as the local extra brings it; else those the host name resolves to)."""
    names = {socket.gethostname(), socket.getfqdn()}
    try:
        names.update(socket.gethostbyname_ex(socket.gethostname())[2])
    except OSError:
        pass
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        names.update(a.address.split("%")[0] for addrs in psutil.net_if_addrs().values() for a in addrs
                     if a.family in (socket.AF_INET, socket.AF_INET6))
    return {n.lower() for n in names if n}


def origin_host(origin: str) -> str:
    """The ``host:port`` part of an ``Origin`` header, lower case (``""`` for ``null``)."""
    return urlsplit(origin).netloc.lower() if origin and origin != "null" else ""


class HostGate(Matcher):
    """Matches every request the app must refuse: an unknown ``Host``, or an ``Origin`` (when
    sent) that is not one of the served hosts."""

    def __init__(self, hosts: frozenset[str]):
        self.hosts = hosts

    def refuses(self, request: HTTPServerRequest) -> bool:
        """Whether ``request`` comes under a name (or from a page) the app does not serve."""
        if request.headers.get("Host", "").lower() not in self.hosts:
            return True
        origin = request.headers.get("Origin")
        return origin is not None and origin_host(origin) not in self.hosts

    def match(self, request: HTTPServerRequest) -> dict | None:
        """Tornado's Matcher API: ``{}`` (route to the refusal) or ``None`` (route on)."""
        return {} if self.refuses(request) else None


class HostRefused(RequestHandler):
    """Answers a refused request with 403 and how to open the app under an allowed name."""

    def initialize(self, url: str) -> None:
        """``url``: the address the studio answers at (named in the refusal)."""
        self.url = url

    def prepare(self) -> None:
        """Refuse, whatever the method, and say under which address the studio answers."""
        host = self.request.headers.get("Host", "")
        origin = self.request.headers.get("Origin")
        seen = f"Host {host!r}" + (f", Origin {origin!r}" if origin is not None else "")
        self.set_status(403)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(f"imagen-nb refused this request ({seen}): the studio answers only at {self.url} "
                    "and only to its own pages. Open it at that address, or restart it with "
                    "`imagen-nb serve --allow-websocket-origin HOST:PORT` for the name a proxy puts in front.\n")


def install_host_gate(app: Application, hosts: frozenset[str], url: str) -> None:
    """Put the gate in front of every route of the tornado ``app`` (refusals point at ``url``)."""
    router = app.default_router
    router.rules.insert(0, router.process_rule(Rule(HostGate(hosts), HostRefused, {"url": url})))
