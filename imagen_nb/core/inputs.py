"""Checks of the plain arguments the public API takes (counts, seeds, time limits, names, text).

Each check raises :class:`~imagen_nb.core.errors.ValidationError` (a ``ValueError``) naming the
argument and saying what is allowed, and returns the value in its normal form. They run before
any work or write starts, at the boundary where a caller hands the value in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from .errors import ValidationError

INT64_MAX = 2**63 - 1
"""Largest whole number the catalog stores (DuckDB BIGINT)."""

MAX_NESTING = 64
"""Deepest nesting of lists and mappings in a parameter value that :func:`check_params_text` walks."""


def check_count(name: str, value: Any, *, minimum: int = 0, maximum: int = INT64_MAX) -> int:
    """A whole number from ``minimum`` to ``maximum`` (``limit=``, ``offset=``, ``max_rows=``…)."""
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        upper = "" if maximum == INT64_MAX else f" and at most {maximum:,}"
        raise ValidationError(name, f"must be a whole number of at least {minimum:,}{upper}; got {value!r}")
    return int(value)


def check_seed(name: str, value: Any) -> int:
    """A whole number that fits the catalog (0 to 2**63-1), e.g. ``rng_seed=``; digits as text are read."""
    number = value
    if isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= INT64_MAX:
        raise ValidationError(name, f"must be a whole number from 0 to 2**63-1 (or None to pick one); "
                                    f"got {value!r}")
    return int(number)


def check_seconds(name: str, value: Any, *, maximum: float = 24 * 3600) -> float:
    """A time limit in seconds, greater than 0 and at most ``maximum`` (``timeout=``); None is refused:
    a limit is what keeps one query from holding the catalog."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0 < value <= maximum:
        raise ValidationError(name, f"must be a number of seconds greater than 0 and at most {maximum:g}; "
                                    f"got {value!r}")
    return float(value)


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored (a NUL character or a lone surrogate), or None when it can."""
    nul = text.find("\0")
    if nul >= 0:
        return (f"holds a NUL character (\\x00) at position {nul + 1}; remove it (NUL ends text in PNG "
                "metadata and most tools)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start]
        return (f"holds {bad!r} at position {exc.start + 1}, half of a surrogate pair, which is not valid "
                "Unicode (text decoded from bytes with errors='surrogateescape' does this); decode the "
                "bytes with their real encoding, or drop that character")
    return None


_UNSTORABLE = re.compile("[\0\ud800-\udfff]")


def clean_text(text: str) -> tuple[str, bool]:
    """``text`` as it can be stored, and whether it changed: NUL characters removed and each lone
    surrogate (JSON may spell one, ``"\\ud800"``; no UTF-8 text, nor DuckDB, can hold it) replaced
    by U+FFFD. The one definition of that cleaning, for text that comes from outside (files,
    providers' replies) and cannot be refused."""
    if _UNSTORABLE.search(text) is None:
        return text, False
    return _UNSTORABLE.sub(lambda m: "" if m.group() == "\0" else "\ufffd", text), True


def storable(value: Any, depth: int = 0) -> Any:
    """A JSON-like value (what a provider returned) with every text in it, keys included, cleaned
    by :func:`clean_text`; values nested deeper than :data:`MAX_NESTING` become text."""
    if isinstance(value, str):
        return clean_text(value)[0]
    if depth >= MAX_NESTING and isinstance(value, (Mapping, list, tuple)):
        return f"(nested more than {MAX_NESTING} levels deep; not kept)"
    if isinstance(value, Mapping):
        return {clean_text(k)[0] if isinstance(k, str) else k: storable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable(v, depth + 1) for v in value]
    return value


def check_text(name: str, value: Any, *, empty: bool = True) -> str:
    """Text without NUL characters or lone surrogates (non-empty unless ``empty``)."""
    if not isinstance(value, str):
        raise ValidationError(name, f"must be text; got {type(value).__name__} {value!r}")
    if not empty and not value.strip():
        raise ValidationError(name, f"must be non-empty text; got {value!r}")
    problem = text_problem(value)
    if problem:
        raise ValidationError(name, problem)
    return value


def check_params_text(params: Mapping[str, Any]) -> None:
    """Every name and every string inside a parameter set (lists and mappings included) is storable text."""
    for key, value in params.items():
        check_text("parameter name", key)
        _walk(str(key), value, 0)


def _walk(name: str, value: Any, depth: int) -> None:
    if isinstance(value, str):
        check_text(name, value)
    elif isinstance(value, (list, tuple)) or isinstance(value, Mapping):
        if depth >= MAX_NESTING:
            raise ValidationError(name, f"nests lists or mappings more than {MAX_NESTING} deep; flatten it")
        items = value.items() if isinstance(value, Mapping) else enumerate(value)
        for key, item in items:
            if isinstance(key, str):
                check_text(name, key)
            _walk(name, item, depth + 1)
