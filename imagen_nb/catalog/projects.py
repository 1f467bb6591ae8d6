"""Projects: named groups of orders."""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

from .rows import records


def get_by_name(cur: duckdb.DuckDBPyConnection, name: str) -> dict[str, Any] | None:
    """The live project called ``name``, or None."""
    cur.execute("SELECT * FROM projects WHERE name = ? AND deleted_at IS NULL", [name])
    rows = records(cur)
    return rows[0] if rows else None


def get(cur: duckdb.DuckDBPyConnection, project_id: str) -> dict[str, Any] | None:
    """The project with this id, or None."""
    cur.execute("SELECT * FROM projects WHERE id = ?", [project_id])
    rows = records(cur)
    return rows[0] if rows else None


def create(cur: duckdb.DuckDBPyConnection, project_id: str, name: str, description: str = "") -> None:
    """Insert a project."""
    cur.execute("INSERT INTO projects (id, name, description) VALUES (?, ?, ?)", [project_id, name, description])


def update(cur: duckdb.DuckDBPyConnection, project_id: str, **fields: Any) -> None:
    """Change name, description or status of a project."""
    allowed = {"name", "description", "status"}
    for key, value in fields.items():
        if key not in allowed:
            raise ValueError(f"cannot set {key!r} on a project; use one of {sorted(allowed)}")
        cur.execute(f"UPDATE projects SET {key} = ?, updated_at = current_timestamp WHERE id = ?",
                    [value, project_id])


def listing(cur: duckdb.DuckDBPyConnection, *, include_archived: bool = False) -> pd.DataFrame:
    """Projects with counts of orders and products, their last activity and a sample product.

    ``sample_product_id`` is the project's best-rated live product, the newest among equals
    (None for a project without products): what a project card shows.
    """
    return cur.execute("""
        SELECT pr.id, pr.name, pr.description, pr.status,
               (SELECT count(*) FROM orders o WHERE o.project_id = pr.id AND o.deleted_at IS NULL) AS orders,
               (SELECT count(*) FROM products p WHERE p.project_id = pr.id AND p.deleted_at IS NULL) AS products,
               greatest(pr.updated_at,
                        (SELECT max(o.updated_at) FROM orders o WHERE o.project_id = pr.id)) AS last_activity,
               (SELECT p.id FROM products p WHERE p.project_id = pr.id AND p.deleted_at IS NULL
                ORDER BY p.rating DESC NULLS LAST, p.id DESC LIMIT 1) AS sample_product_id
        FROM projects pr
        WHERE pr.deleted_at IS NULL AND (? OR pr.status = 'active')
        ORDER BY last_activity DESC""", [include_archived]).df()
