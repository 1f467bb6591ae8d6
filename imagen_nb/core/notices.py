"""Warnings meant for whoever made a call, kept apart per call rather than per process.

``warnings.catch_warnings`` swaps the process-wide filters and list, so two threads catching at
once (two clients importing on one host, a panel importing while a notebook runs ``sql``) take
each other's warnings. :func:`warn` gives a warning to the innermost :func:`collect` of the same
thread (or asyncio task), and only outside any ``collect`` warns as Python does.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

#: (category, message) pairs of the current collect(), or None outside one
_SINK: ContextVar[list[tuple[type[Warning], str]] | None] = ContextVar("imagen_nb_notices", default=None)


def warn(message: str, category: type[Warning] = UserWarning, stacklevel: int = 2) -> None:
    """Warn the caller: into the current :func:`collect` if there is one, else with ``warnings.warn``."""
    sink = _SINK.get()
    if sink is not None:
        sink.append((category, str(message)))
        return
    warnings.warn(message, category, stacklevel=stacklevel + 1)


@contextmanager
def collect() -> Iterator[list[tuple[type[Warning], str]]]:
    """Collect the :func:`warn` warnings of the calls inside, in this thread or task only."""
    sink: list[tuple[type[Warning], str]] = []
    token = _SINK.set(sink)
    try:
        yield sink
    finally:
        _SINK.reset(token)


__all__ = ["collect", "warn"]
