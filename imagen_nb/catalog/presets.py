"""Presets: named parameter sets people save from the Order panel and apply again later."""

from __future__ import annotations

import json
from typing import Any, Mapping

import duckdb

from ..core.ids import new_id


def all_presets(cur: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    """Every live preset, name → ``{"model": model id or None, "params": {...}}``, by name."""
    cur.execute("SELECT name, model_id, params FROM presets WHERE deleted_at IS NULL ORDER BY name")
    return {name: {"model": model, "params": json.loads(params)} for name, model, params in cur.fetchall()}


def put(cur: duckdb.DuckDBPyConnection, name: str, model: str | None, params: Mapping[str, Any]) -> None:
    """Create a preset, or replace the one with this name."""
    payload = json.dumps(dict(params), ensure_ascii=False)
    cur.execute("UPDATE presets SET model_id = ?, params = ?, updated_at = current_timestamp "
                "WHERE name = ? AND deleted_at IS NULL RETURNING id", [model, payload, name])
    if not cur.fetchall():
        cur.execute("INSERT INTO presets (id, name, model_id, params) VALUES (?, ?, ?, ?)",
                    [new_id(), name, model, payload])


def delete(cur: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Soft-delete a preset; True when it existed."""
    cur.execute("""UPDATE presets SET deleted_at = current_timestamp, updated_at = current_timestamp
                   WHERE name = ? AND deleted_at IS NULL RETURNING id""", [name])
    return bool(cur.fetchall())
