"""Whether a provider can run now: ``studio.health()`` and ``imagen-nb doctor``.

Each provider answers :meth:`~imagen_nb.providers.base.Provider.health` with a :class:`Health`:
local ones the device they would run on and its memory; remote ones whether a key is set (never
the key) and, only when asked (``reach=True``), whether their endpoint answers. Nothing here runs
at import or when a studio opens: a health check costs what it checks (torch is imported for a
device, a network round trip for reachability).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

#: The columns of ``studio.health()``, in order.
COLUMNS = ("provider", "kind", "ready", "device", "memory_total", "memory_free", "key", "reachable", "detail")


@dataclass(frozen=True)
class Health:
    """One provider's answer to "can you run now?".

    Args:
        provider: the provider's name.
        kind: ``local`` or ``remote``.
        ready: True when a generation could start now (device usable; key set and, when checked,
            the endpoint reachable).
        device: the device a local provider runs on (``cuda``, ``cpu``…), else None.
        memory_total / memory_free: bytes of that device's memory (RAM for the CPU), when known.
        key: where the API key comes from (``env FAL_KEY``, the keys file), ``missing``, or None
            when the provider needs none.
        reachable: whether the endpoint answered (any HTTP status counts); None when not checked.
        detail: one line for a person: what is wrong and how to fix it, or what was found.
    """

    provider: str
    kind: str
    ready: bool
    device: str | None = None
    memory_total: int | None = None
    memory_free: int | None = None
    key: str | None = None
    reachable: bool | None = None
    detail: str = ""

    def as_row(self) -> dict[str, Any]:
        """The health columns as a dict."""
        return asdict(self)


def reach(url: str, timeout: float = 5.0) -> tuple[bool, str]:
    """(answered, what happened) for one GET of ``url``: any HTTP status means the endpoint is reachable."""
    import httpx

    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            response = client.get(url)
    except httpx.HTTPError as exc:
        return False, f"{url} did not answer ({type(exc).__name__}: {exc or 'no detail'})"
    return True, f"{url} answered HTTP {response.status_code}"


def free_ram() -> int | None:
    """Bytes of RAM available for new allocations (``MemAvailable``), when the platform says."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import os

        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
