"""Catalog values as JSON a page can take: pandas and numpy cells, parameter dicts, timestamps.

The Studio answers with DataFrames, whose cells hold NaN for a missing number, NaT for a
missing time and numpy scalars; replies to a page must be plain JSON. Every panel converts
with :func:`jsonable`, and :func:`epoch` where the page wants seconds since the epoch.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any, Mapping

import pandas as pd


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON: NaN, NaT and NA become None (infinities too), numpy values
    Python ones, dates ISO 8601 text; mappings and sequences are converted throughout and
    anything else becomes its text."""
    if value is None or isinstance(value, (str, int)):  # bool is an int
        return value
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, date):  # datetime and pandas Timestamp too
        return None if value is pd.NaT else value.isoformat()
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return jsonable(value.tolist())
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, range, set, frozenset)):
        return [jsonable(v) for v in value]
    try:
        if pd.isna(value):  # pd.NA and the like
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def epoch(value: Any) -> float | None:
    """Seconds since the epoch for a timestamp cell (None for NaT/None)."""
    if value is None:
        return None
    try:
        if value != value:  # NaN / NaT
            return None
        return float(value.timestamp())
    except (AttributeError, TypeError, ValueError):
        return None
