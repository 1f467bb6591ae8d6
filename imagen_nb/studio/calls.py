"""The calls a client may make of its host: the shared user API, the handles' reads, the mappings."""

from __future__ import annotations

import os
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Callable

from ..core import notices

from .surface import HANDLE_API, MAPPINGS, USER_API, USER_PROPERTIES, VIEWS

if TYPE_CHECKING:
    from .local import LocalStudio

#: the header in which a Python client names its process (recorded as an order's ``ordered_by_pid``)
PID_HEADER = "X-Imagen-Nb-Pid"

#: the default of CALLER_PID: a call made in the host's own process
LOCAL = object()

#: Mapping calls a client forwards: ``tokens.get`` …
MAPPING_OPS = ("all", "get", "set", "delete")
CALLS = frozenset(USER_API + HANDLE_API + USER_PROPERTIES
                  + tuple(f"{m}.{op}" for m, ops in MAPPINGS.items() for op in ops)
                  + tuple(f"views.{name}" for name in VIEWS))


def call_studio(studio: "LocalStudio", name: str, args: list, kwargs: dict) -> Any:
    """Run one client call on the local studio (``name`` must be in :data:`CALLS`)."""
    if name not in CALLS:
        raise LookupError(f"no studio call {name!r}")
    if name in USER_PROPERTIES:
        return getattr(studio, name)
    if name.startswith("views."):
        return getattr(studio.views, name[6:])(*args, **kwargs)
    if "." in name:
        which, op = name.split(".")
        mapping = getattr(studio, which)
        if op == "all":
            return dict(mapping)
        if op in ("listing", "saved"):
            return getattr(mapping, op)()
        if op == "get":
            return mapping[args[0]]
        if op == "set":
            mapping[args[0]] = args[1]
            return None
        del mapping[args[0]]
        return None
    return getattr(studio, name)(*args, **kwargs)


#: The process that made the call a host is running, for the records it writes (an order's
#: ``ordered_by_pid``): unset in the host's own calls (that is the host's pid), the client's pid
#: in a Python client's call, None in a REST call (curl and other tools: not known).
CALLER_PID: ContextVar[int | None | object] = ContextVar("imagen_nb_caller_pid", default=LOCAL)


def caller_pid() -> int | None:
    """The pid of the process whose call is running (see :data:`CALLER_PID`)."""
    pid = CALLER_PID.get()
    return os.getpid() if pid is LOCAL else pid  # type: ignore[return-value]


def as_caller(pid: int | None, fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn(*args)`` as a call made by process ``pid`` (None: a REST call)."""
    token = CALLER_PID.set(pid)
    try:
        return fn(*args)
    finally:
        CALLER_PID.reset(token)


def call_with_warnings(studio: "LocalStudio", name: str, args: list, kwargs: dict,
                       pid: int | None = None) -> tuple[Any, list[list[str]]]:
    """:func:`call_studio` as a call of client process ``pid``, with the warnings it gave as
    ``[category name, message]`` pairs, so that the client can give them in its own process
    (``MetadataWarning`` of an import, a cut SQL result). Only this call's warnings: they are
    collected per thread (:mod:`~imagen_nb.core.notices`), not with the process-wide
    ``warnings.catch_warnings``."""
    with notices.collect() as given:
        result = as_caller(pid, call_studio, studio, name, args, kwargs)
    return result, [[category.__name__, message] for category, message in given]


def warn_again(given: list) -> None:
    """Give, in this process, the warnings a host's call gave (see :func:`call_with_warnings`)."""
    import builtins

    from ..core import errors

    for category, message in given or ():
        cls = getattr(errors, str(category), None) or getattr(builtins, str(category), None)
        if not (isinstance(cls, type) and issubclass(cls, Warning)):
            cls = UserWarning
        notices.warn(str(message), cls, stacklevel=4)
