"""The calls a client may make of its host: the shared user API, the handles' reads, the mappings."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from .surface import HANDLE_API, MAPPINGS, USER_API, USER_PROPERTIES, VIEWS

if TYPE_CHECKING:
    from .local import LocalStudio

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
        if op == "listing":
            return mapping.listing()
        if op == "get":
            return mapping[args[0]]
        if op == "set":
            mapping[args[0]] = args[1]
            return None
        del mapping[args[0]]
        return None
    return getattr(studio, name)(*args, **kwargs)


#: Calls whose warnings a client should see: an import's MetadataWarning, a cut SQL result.
WARNING_CALLS = frozenset({"import_products", "sql", "backup"})


def call_with_warnings(studio: "LocalStudio", name: str, args: list, kwargs: dict) -> tuple[Any, list[list[str]]]:
    """:func:`call_studio`, with the warnings it gave as ``[category name, message]`` pairs, so
    that a client can give them in its own process (``MetadataWarning`` of an import…)."""
    if name not in WARNING_CALLS:  # catch_warnings is process-wide: only around the calls that warn
        return call_studio(studio, name, args, kwargs), []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call_studio(studio, name, args, kwargs)
    return result, [[w.category.__name__, str(w.message)] for w in caught]


def warn_again(given: list) -> None:
    """Give, in this process, the warnings a host's call gave (see :func:`call_with_warnings`)."""
    import builtins

    from ..core import errors

    for category, message in given or ():
        cls = getattr(errors, str(category), None) or getattr(builtins, str(category), None)
        if not (isinstance(cls, type) and issubclass(cls, Warning)):
            cls = UserWarning
        warnings.warn(str(message), cls, stacklevel=4)
