"""Server-side login sessions and the throttle on wrong passwords.

A session is a random id the login cookie carries (signed); the server keeps the list, so
signing out, or a session growing old, ends it for good: the same cookie no longer works, and
the websockets opened under it are closed.
"""

from __future__ import annotations

import ipaddress
import math
import secrets
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Callable, Protocol


class Closable(Protocol):
    """Something a session closes when it ends (a websocket connection)."""

    def close(self, code: int | None = None, reason: str | None = None) -> None: ...


@dataclass
class _Session:
    user: str
    started: float
    seen: float
    sockets: weakref.WeakSet = field(default_factory=weakref.WeakSet)


class Sessions:
    """Login sessions by id: ``open`` after a good password, ``user`` to check a cookie's id,
    ``close`` on sign-out. A session ends ``lifetime`` seconds after it started, or after ``idle``
    seconds unused."""

    def __init__(self, lifetime: float = 7 * 86400, idle: float = 12 * 3600,
                 clock: Callable[[], float] = time.monotonic):
        self.lifetime, self.idle, self.clock = lifetime, idle, clock
        self._by_id: dict[str, _Session] = {}
        self._lock = threading.Lock()

    def open(self, user: str) -> str:
        """Start a session for ``user``: its id (put it in the login cookie)."""
        sid = secrets.token_urlsafe(32)
        now = self.clock()
        with self._lock:
            self._expire(now)
            self._by_id[sid] = _Session(user, now, now)
        return sid

    def user(self, sid: str | None) -> str | None:
        """The user of a live session ``sid``; ``None`` when it never existed, ended or expired."""
        if not sid:
            return None
        now = self.clock()
        with self._lock:
            session = self._by_id.get(sid)
            if session is None:
                return None
            if now - session.started > self.lifetime or now - session.seen > self.idle:
                self._end(sid)
                return None
            session.seen = now
            return session.user

    def follow(self, sid: str, connection: Closable) -> None:
        """Close ``connection`` when session ``sid`` ends."""
        with self._lock:
            session = self._by_id.get(sid)
            if session is not None:
                session.sockets.add(connection)

    def close(self, sid: str | None) -> bool:
        """End session ``sid`` and close its connections; whether it was live."""
        with self._lock:
            return sid is not None and self._end(sid)

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_id)

    def _expire(self, now: float) -> None:
        for sid in [s for s, x in self._by_id.items()
                    if now - x.started > self.lifetime or now - x.seen > self.idle]:
            self._end(sid)

    def _end(self, sid: str) -> bool:
        session = self._by_id.pop(sid, None)
        if session is None:
            return False
        for connection in list(session.sockets):
            try:
                connection.close(1008, "signed out")
            except Exception:  # already closed: nothing left to end
                pass
        return True


def client_key(remote_ip: str | None) -> str:
    """Whose tries a request counts against: its IPv4 address, or its IPv6 /64 network (one
    machine easily holds a whole /64)."""
    try:
        address = ipaddress.ip_address(remote_ip or "")
    except ValueError:
        return remote_ip or "?"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class LoginThrottle:
    """Wrong passwords cost time: after ``free`` wrong tries from one client, each further wrong
    try locks that client out for twice as long as the last (``base`` seconds first, ``cap`` at
    most). A good password clears its count; tries during a lockout are not even checked."""

    def __init__(self, free: int = 3, base: float = 1.0, cap: float = 300.0, max_clients: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        self.free, self.base, self.cap, self.max_clients, self.clock = free, base, cap, max_clients, clock
        self._failures: dict[str, tuple[int, float]] = {}  # client → (wrong tries, locked until)
        self._lock = threading.Lock()

    def wait(self, client: str) -> float:
        """Seconds ``client`` must still wait before its next try (0: it may try now)."""
        with self._lock:
            _, until = self._failures.get(client, (0, 0.0))
        return max(0.0, until - self.clock())

    def failed(self, client: str) -> float:
        """Count a wrong password from ``client``: the seconds it must now wait."""
        now = self.clock()
        with self._lock:
            count, _ = self._failures.pop(client, (0, 0.0))
            count += 1
            over = count - self.free
            delay = 0.0 if over <= 0 else min(self.cap, self.base * 2 ** (over - 1))
            self._failures[client] = (count, now + delay)
            if len(self._failures) > self.max_clients:  # forget the longest-quiet client first
                self._failures.pop(next(iter(self._failures)))
        return delay

    def succeeded(self, client: str) -> None:
        """A good password from ``client``: its wrong tries are forgotten."""
        with self._lock:
            self._failures.pop(client, None)


def seconds(delay: float) -> int:
    """A wait as whole seconds for ``Retry-After`` and messages (rounded up, at least 1)."""
    return max(1, math.ceil(delay))
