"""Batch writes: rows go in through a registered Arrow table, never row by row."""

from __future__ import annotations

import itertools
import json
from typing import Any, Iterable, Mapping, Sequence

import duckdb
import pandas as pd
import pyarrow as pa

_names = itertools.count()

#: Up to this many rows, one parameterised statement per row beats registering an Arrow table
#: (about 1–1.5 ms against 3 ms a statement, measured on the 2-core VM of benchmarks/RESULTS.md).
SMALL_BATCH = 2


def to_json(value: Any) -> str | None:
    """JSON text for a JSON column (None stays NULL); non-JSON values become their ``str``."""
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, default=str)


def from_json(value: Any) -> Any:
    """Parse a JSON column value read back from DuckDB."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return json.loads(value) if isinstance(value, str) else value


def insert_rows(cur: duckdb.DuckDBPyConnection, table: str, rows: Sequence[Mapping[str, Any]],
                columns: Sequence[str]) -> None:
    """Insert ``rows`` (dicts with ``columns``) into ``table`` in one statement."""
    if not rows:
        return
    cols = ", ".join(f'"{c}"' for c in columns)
    if len(rows) <= SMALL_BATCH:
        marks = ", ".join("?" for _ in columns)
        for r in rows:
            cur.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", [r.get(c) for c in columns])
        return
    frame = pa.table({c: [r.get(c) for r in rows] for c in columns})
    name = f"_rows_{next(_names)}"
    cur.register(name, frame)
    try:
        cur.execute(f'INSERT INTO {table} ({cols}) SELECT {cols} FROM {name}')
    finally:
        cur.unregister(name)


def update_rows(cur: duckdb.DuckDBPyConnection, table: str, rows: Iterable[Mapping[str, Any]],
                columns: Sequence[str], *, key: str = "id", dtypes: Mapping[str, str] | None = None) -> None:
    """Set ``columns`` of the rows of ``table`` whose ``key`` matches, from ``rows``, in one statement.

    ``dtypes`` casts columns whose DataFrame type would be ambiguous (e.g. all NULL).
    """
    rows = list(rows)
    if not rows:
        return
    frame = pa.table({key: [r[key] for r in rows], **{c: [r.get(c) for r in rows] for c in columns}})
    name = f"_rows_{next(_names)}"
    cur.register(name, frame)
    dtypes = dtypes or {}
    try:
        sets = ", ".join(
            f'"{c}" = CAST(u."{c}" AS {dtypes[c]})' if c in dtypes else f'"{c}" = u."{c}"' for c in columns
        )
        cur.execute(
            f'UPDATE {table} SET {sets}, updated_at = current_timestamp FROM {name} u '
            f'WHERE {table}."{key}" = u."{key}"'
        )
    finally:
        cur.unregister(name)


def records(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The rows of the last query as dicts."""
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row)) for row in cur.fetchall()]
