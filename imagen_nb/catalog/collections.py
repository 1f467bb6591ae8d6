"""Collections: user-curated sets of products (many-to-many)."""

from __future__ import annotations

from typing import Any, Sequence

import duckdb
import pandas as pd

from ..core.ids import new_id
from .rows import insert_rows, records


def get_by_name(cur: duckdb.DuckDBPyConnection, name: str) -> dict[str, Any] | None:
    """The live collection called ``name``, or None."""
    cur.execute("SELECT * FROM collections WHERE name = ? AND deleted_at IS NULL", [name])
    rows = records(cur)
    return rows[0] if rows else None


def create(cur: duckdb.DuckDBPyConnection, collection_id: str, name: str, description: str = "") -> None:
    """Insert a collection."""
    cur.execute("INSERT INTO collections (id, name, description) VALUES (?, ?, ?)",
                [collection_id, name, description])


def add(cur: duckdb.DuckDBPyConnection, collection_id: str, product_ids: Sequence[str]) -> int:
    """Add products not yet in the collection; return how many were added."""
    cur.execute("""SELECT product_id FROM collection_products
                   WHERE collection_id = ? AND deleted_at IS NULL""", [collection_id])
    present = {r[0] for r in cur.fetchall()}
    new = [p for p in dict.fromkeys(product_ids) if p not in present]
    insert_rows(cur, "collection_products",
                [{"id": new_id(), "collection_id": collection_id, "product_id": p} for p in new],
                ("id", "collection_id", "product_id"))
    return len(new)


def remove(cur: duckdb.DuckDBPyConnection, collection_id: str, product_ids: Sequence[str]) -> int:
    """Remove products from the collection (soft); return how many were removed."""
    cur.execute("""UPDATE collection_products SET deleted_at = current_timestamp, updated_at = current_timestamp
                   WHERE collection_id = ? AND product_id IN (SELECT unnest(?)) AND deleted_at IS NULL
                   RETURNING id""", [collection_id, list(product_ids)])
    return len(cur.fetchall())


def product_ids(cur: duckdb.DuckDBPyConnection, collection_id: str) -> list[str]:
    """Live products of a collection, in the order they were added."""
    cur.execute("""SELECT cp.product_id FROM collection_products cp JOIN products p ON p.id = cp.product_id
                   WHERE cp.collection_id = ? AND cp.deleted_at IS NULL AND p.deleted_at IS NULL
                   ORDER BY cp.id""", [collection_id])
    return [r[0] for r in cur.fetchall()]


def listing(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Collections with their product counts."""
    return cur.execute("""
        SELECT c.id, c.name, c.description, count(p.id) AS products, c.created_at
        FROM collections c
        LEFT JOIN collection_products cp ON cp.collection_id = c.id AND cp.deleted_at IS NULL
        LEFT JOIN products p ON p.id = cp.product_id AND p.deleted_at IS NULL
        WHERE c.deleted_at IS NULL GROUP BY ALL ORDER BY c.name""").df()
