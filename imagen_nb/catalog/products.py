"""Products: rows for files on disk, ratings, soft deletes, gallery queries."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import duckdb
import pandas as pd

from .rows import from_json, insert_rows, records, to_json

PRODUCT_COLUMNS = (
    "id", "generation_id", "order_id", "project_id", "model_id", "source", "kind", "media_type",
    "path", "thumb_path", "size", "width", "height", "sha256", "prompt", "negative_prompt", "seed",
    "num_inference_steps", "guidance_scale", "params", "created_at",
)


def insert_products(cur: duckdb.DuckDBPyConnection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert product rows (``params`` as a dict) in one statement."""
    insert_rows(cur, "products", [{**r, "params": to_json(r.get("params"))} for r in rows], PRODUCT_COLUMNS)


def _parse(rows: list[dict]) -> list[dict]:
    for row in rows:
        row["params"] = from_json(row.get("params"))
    return rows


def get_products(cur: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> list[dict[str, Any]]:
    """Products by id (deleted ones included), in the order asked."""
    if not ids:
        return []
    cur.execute("SELECT * FROM products WHERE id IN (SELECT unnest(?))", [list(ids)])
    by_id = {r["id"]: r for r in _parse(records(cur))}
    return [by_id[i] for i in ids if i in by_id]


def products_of_order(cur: duckdb.DuckDBPyConnection, order_id: str) -> list[dict[str, Any]]:
    """Live products of an order, in generation order."""
    cur.execute("""SELECT p.* FROM products p JOIN generations g ON g.id = p.generation_id
                   WHERE p.order_id = ? AND p.deleted_at IS NULL ORDER BY g.seq, p.id""", [order_id])
    return _parse(records(cur))


def product_files(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """id, path, thumb_path and generation of every live product (for reconciliation)."""
    return cur.execute(
        "SELECT id, path, thumb_path, generation_id FROM products WHERE deleted_at IS NULL").df()


def deleted_paths(cur: duckdb.DuckDBPyConnection) -> list[str]:
    """Paths of soft-deleted products (their files stay so that undo works)."""
    cur.execute("SELECT path FROM products WHERE deleted_at IS NOT NULL")
    return [path for (path,) in cur.fetchall()]


def mark_missing(cur: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> None:
    """Soft-delete products whose file vanished from disk."""
    if ids:
        cur.execute("""UPDATE products SET deleted_at = current_timestamp, updated_at = current_timestamp
                       WHERE id IN (SELECT unnest(?))""", [list(ids)])


def rate(cur: duckdb.DuckDBPyConnection, ids: Sequence[str], rating: int | None) -> int:
    """Set (or clear, with None) the rating of products; return how many changed."""
    cur.execute("""UPDATE products SET rating = ?, updated_at = current_timestamp
                   WHERE id IN (SELECT unnest(?)) AND deleted_at IS NULL RETURNING id""", [rating, list(ids)])
    return len(cur.fetchall())


def soft_delete(cur: duckdb.DuckDBPyConnection, ids: Sequence[str], *, undo: bool = False) -> int:
    """Soft-delete products (or restore them with ``undo=True``); return how many changed."""
    if undo:
        cur.execute("""UPDATE products SET deleted_at = NULL, updated_at = current_timestamp
                       WHERE id IN (SELECT unnest(?)) AND deleted_at IS NOT NULL RETURNING id""", [list(ids)])
    else:
        cur.execute("""UPDATE products SET deleted_at = current_timestamp, updated_at = current_timestamp
                       WHERE id IN (SELECT unnest(?)) AND deleted_at IS NULL RETURNING id""", [list(ids)])
    return len(cur.fetchall())


GALLERY_FILTERS = {
    "model": "model = ?",
    "provider": "provider = ?",
    "project": "project = ?",
    "project_id": "project_id = ?",
    "order_id": "order_id = ?",
    "kind": "kind = ?",
    "min_rating": "rating >= ?",
    "collection": "list_contains(collections, ?)",
    "since": "created_at >= ?",
    "until": "created_at < ?",
    "text": "prompt ILIKE '%' || ? || '%'",
}


def gallery_page(cur: duckdb.DuckDBPyConnection, *, limit: int = 50, offset: int = 0,
                 **filters: Any) -> pd.DataFrame:
    """Newest products first, filtered by ``GALLERY_FILTERS`` keys (None values are ignored)."""
    where, args = [], []
    for key, value in filters.items():
        if value is None:
            continue
        if key not in GALLERY_FILTERS:
            raise ValueError(f"unknown gallery filter {key!r}; use one of {', '.join(GALLERY_FILTERS)}")
        where.append(GALLERY_FILTERS[key])
        args.append(value)
    sql = "SELECT * EXCLUDE (params) FROM gallery"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY created_at DESC, product_id DESC LIMIT ? OFFSET ?"
    return cur.execute(sql, [*args, limit, offset]).df()
