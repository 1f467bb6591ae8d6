"""Sets: saved recipes of rows + templates (issue 13), one row per name."""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

import duckdb

from ..core.ids import new_id


def all_sets(cur: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    """Every live set, name → ``{"description", "model", "recipe", "rows"}``, by name."""
    cur.execute("SELECT name, description, model_id, recipe, table_rows FROM sets "
                "WHERE deleted_at IS NULL ORDER BY name")
    return {name: {"description": description, "model": model, "recipe": json.loads(recipe),
                   "rows": json.loads(rows)}
            for name, description, model, recipe, rows in cur.fetchall()}


def names(cur: duckdb.DuckDBPyConnection) -> list[str]:
    """Names of the live sets, sorted (without reading their rows)."""
    cur.execute("SELECT name FROM sets WHERE deleted_at IS NULL ORDER BY name")
    return [r[0] for r in cur.fetchall()]


def get(cur: duckdb.DuckDBPyConnection, name: str) -> dict[str, Any] | None:
    """One live set by name, as in :func:`all_sets`, or None."""
    cur.execute("SELECT description, model_id, recipe, table_rows FROM sets "
                "WHERE name = ? AND deleted_at IS NULL", [name])
    row = cur.fetchone()
    if row is None:
        return None
    return {"description": row[0], "model": row[1], "recipe": json.loads(row[2]), "rows": json.loads(row[3])}


def put(cur: duckdb.DuckDBPyConnection, name: str, *, description: str, model: str | None,
        recipe: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> None:
    """Create a set, or replace the one with this name."""
    recipe_json = json.dumps(dict(recipe), ensure_ascii=False, default=str)
    rows_json = json.dumps([dict(r) for r in rows], ensure_ascii=False, default=str)
    cur.execute("UPDATE sets SET description = ?, model_id = ?, recipe = ?, table_rows = ?, "
                "updated_at = current_timestamp WHERE name = ? AND deleted_at IS NULL RETURNING id",
                [description, model, recipe_json, rows_json, name])
    if not cur.fetchall():
        cur.execute("INSERT INTO sets (id, name, description, model_id, recipe, table_rows) VALUES (?, ?, ?, ?, ?, ?)",
                    [new_id(), name, description, model, recipe_json, rows_json])


def delete(cur: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Soft-delete a set; True when it existed."""
    cur.execute("""UPDATE sets SET deleted_at = current_timestamp, updated_at = current_timestamp
                   WHERE name = ? AND deleted_at IS NULL RETURNING id""", [name])
    return bool(cur.fetchall())


def grid_generations(cur: duckdb.DuckDBPyConnection, order_id: str) -> list[dict[str, Any]]:
    """An order's generations for a grid, in expansion order: id, seq, status, params, set_row,
    row_values, error_type, and the first live product's id, thumbnail and file paths."""
    cur.execute("""
        SELECT g.id, g.seq, g.status, g.params, g.set_row, g.row_values, g.error_type,
               p.id AS product_id, p.thumb_path, p.path
        FROM generations g
        LEFT JOIN (SELECT generation_id, arg_min(id, created_at) AS id, arg_min(thumb_path, created_at) AS thumb_path,
                          arg_min(path, created_at) AS path
                   FROM products WHERE order_id = ? AND deleted_at IS NULL GROUP BY generation_id) p
               ON p.generation_id = g.id
        WHERE g.order_id = ? AND g.deleted_at IS NULL
        ORDER BY g.seq""", [order_id, order_id])
    cols = [d[0] for d in cur.description]
    out = []
    for values in cur.fetchall():
        row = dict(zip(cols, values))
        row["params"] = json.loads(row["params"]) if row["params"] else {}
        row["row_values"] = json.loads(row["row_values"]) if row["row_values"] else None
        out.append(row)
    return out


def grid_products(cur: duckdb.DuckDBPyConnection, ids: Sequence[str]):
    """The gallery rows of these products (params and row_values parsed) as a DataFrame, for a grid."""
    frame = cur.execute("""
        SELECT gl.*, o.set_name, g.set_row, g.row_values
        FROM (SELECT * FROM gallery WHERE product_id IN (SELECT unnest(?))) gl
        LEFT JOIN generations g ON g.id = gl.generation_id
        LEFT JOIN orders o ON o.id = gl.order_id""", [list(ids)]).df()
    for column in ("params", "row_values"):
        frame[column] = [json.loads(v) if isinstance(v, str) else None for v in frame[column]]
    return frame
