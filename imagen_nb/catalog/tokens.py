"""Smart tokens: named lists of values referenced in prompts as ``[name]``."""

from __future__ import annotations

import json
from typing import Sequence

import duckdb

from ..core.ids import new_id


def all_tokens(cur: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Every live token, name → values."""
    cur.execute('SELECT name, "values" FROM smart_tokens WHERE deleted_at IS NULL ORDER BY name')
    return {name: json.loads(values) for name, values in cur.fetchall()}


def put(cur: duckdb.DuckDBPyConnection, name: str, values: Sequence[str]) -> None:
    """Create or replace a token."""
    payload = json.dumps(list(values), ensure_ascii=False)
    cur.execute('UPDATE smart_tokens SET "values" = ?, updated_at = current_timestamp '
                "WHERE name = ? AND deleted_at IS NULL RETURNING id", [payload, name])
    if not cur.fetchall():
        cur.execute('INSERT INTO smart_tokens (id, name, "values") VALUES (?, ?, ?)', [new_id(), name, payload])


def delete(cur: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Soft-delete a token; True when it existed."""
    cur.execute("""UPDATE smart_tokens SET deleted_at = current_timestamp, updated_at = current_timestamp
                   WHERE name = ? AND deleted_at IS NULL RETURNING id""", [name])
    return bool(cur.fetchall())
