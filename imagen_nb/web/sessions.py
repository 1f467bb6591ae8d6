"""Server-side login sessions and the throttle on wrong passwords.

A session is a random id the login cookie carries (signed); the server keeps the list, so
signing out, or a session growing old, ends it for good: the same cookie no longer works, and
the websockets opened under it are closed.
"""

from __future__ import annotations

import heapq
import math
import secrets
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence

from .clients import client_key, client_keys

__all__ = ["Closable", "Sessions", "LoginThrottle", "client_key", "client_keys", "seconds"]


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


class LoginThrottle:
    """Wrong passwords cost time: after ``free`` wrong tries from one client, each further wrong
    try locks that client out for twice as long as the last (``base`` seconds first, ``cap`` at
    most). A good password clears its count; tries during a lockout are not even checked.

    A client is a tuple of keys, narrowest first (:func:`~.clients.client_keys`: an IPv6 /64
    then its /48, an IPv4 address then its /24): each wrong try counts against every key, the
    narrowest with ``free`` free tries and the wider ones with ``free_wide`` (several people may
    share a /48 or a /24), and a client waits for the longest lockout of its keys. An attacker who
    takes a fresh address (a fresh /64) for every few tries is stopped by the /48. A good password
    clears only the narrowest key: a neighbour who knows the password does not lift a lockout an
    attacker earned for the wider network.

    At most ``max_clients`` keys are remembered. When there are more, the ones that say least are
    forgotten first (fewest wrong tries, then the earliest end of lockout): a flood of fresh
    addresses with one try each cannot push out the count of a client that is locked out.
    """

    def __init__(self, free: int = 3, base: float = 1.0, cap: float = 300.0, max_clients: int = 10_000,
                 clock: Callable[[], float] = time.monotonic, free_wide: int = 30):
        self.free, self.base, self.cap, self.max_clients, self.clock = free, base, cap, max_clients, clock
        self.free_wide = free_wide
        self._failures: dict[str, tuple[int, float]] = {}  # key → (wrong tries, locked until)
        self._lock = threading.Lock()

    @staticmethod
    def _keys(client: str | Sequence[str]) -> tuple[str, ...]:
        return (client,) if isinstance(client, str) else tuple(client)

    def wait(self, client: str | Sequence[str]) -> float:
        """Seconds ``client`` (a key, or its keys) must still wait before its next try (0: it may try now)."""
        now = self.clock()
        with self._lock:
            until = max((self._failures.get(k, (0, 0.0))[1] for k in self._keys(client)), default=0.0)
        return max(0.0, until - now)

    def failed(self, client: str | Sequence[str]) -> float:
        """Count a wrong password from ``client`` (a key, or its keys): the seconds it must now wait."""
        now = self.clock()
        longest = 0.0
        with self._lock:
            for level, key in enumerate(self._keys(client)):
                count, until = self._failures.pop(key, (0, 0.0))
                count += 1
                over = count - (self.free if level == 0 else self.free_wide)
                delay = 0.0 if over <= 0 else min(self.cap, self.base * 2 ** (over - 1))
                self._failures[key] = (count, max(until, now + delay))
                longest = max(longest, self._failures[key][1] - now)
            if len(self._failures) > self.max_clients:
                self._forget_some()
        return longest

    def _forget_some(self) -> None:
        """Bring the table back to 90% of ``max_clients``, forgetting the keys that say least."""
        excess = len(self._failures) - int(self.max_clients * 0.9)
        for key in heapq.nsmallest(excess, self._failures, key=self._failures.__getitem__):
            del self._failures[key]

    def succeeded(self, client: str | Sequence[str]) -> None:
        """A good password from ``client``: the wrong tries of its narrowest key are forgotten."""
        with self._lock:
            self._failures.pop(self._keys(client)[0], None)


def seconds(delay: float) -> int:
    """A wait as whole seconds for ``Retry-After`` and messages (rounded up, at least 1)."""
    return max(1, math.ceil(delay))
