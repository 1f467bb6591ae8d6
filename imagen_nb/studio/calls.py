"""The calls a client may make of its host: the shared user API, the handles' reads, the mappings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .surface import HANDLE_API, USER_API, VIEWS

if TYPE_CHECKING:
    from .local import LocalStudio

#: Mapping calls a client forwards: ``tokens.get`` …
MAPPING_OPS = ("all", "get", "set", "delete")
CALLS = frozenset(USER_API + HANDLE_API + tuple(f"{m}.{op}" for m in ("tokens", "presets") for op in MAPPING_OPS)
                  + tuple(f"views.{name}" for name in VIEWS))


def call_studio(studio: "LocalStudio", name: str, args: list, kwargs: dict) -> Any:
    """Run one client call on the local studio (``name`` must be in :data:`CALLS`)."""
    if name not in CALLS:
        raise LookupError(f"no studio call {name!r}")
    if name.startswith("views."):
        return getattr(studio.views, name[6:])(*args, **kwargs)
    if "." in name:
        which, op = name.split(".")
        mapping = getattr(studio, which)
        if op == "all":
            return dict(mapping)
        if op == "get":
            return mapping[args[0]]
        if op == "set":
            mapping[args[0]] = args[1]
            return None
        del mapping[args[0]]
        return None
    return getattr(studio, name)(*args, **kwargs)
