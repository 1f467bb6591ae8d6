"""Products: rows for files on disk, ratings, soft deletes, gallery queries."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import duckdb
import pandas as pd

from ..core.limits import MAX_PROMPT_CHARS
from .rows import from_json, insert_rows, records, to_json, update_rows

PRODUCT_COLUMNS = (
    "id", "generation_id", "order_id", "project_id", "model_id", "source", "kind", "media_type",
    "path", "thumb_path", "size", "width", "height", "sha256", "prompt", "negative_prompt", "seed",
    "num_inference_steps", "guidance_scale", "params", "created_at",
)


def insert_products(cur: duckdb.DuckDBPyConnection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert product rows (``params`` as a dict) in one statement.

    The ``prompt`` and ``negative_prompt`` columns keep at most :data:`MAX_PROMPT_CHARS`
    characters (``params`` keeps what it is given), so no product makes gallery pages heavy.
    """
    insert_rows(cur, "products", [{**r, "params": to_json(r.get("params")), "prompt": _bounded(r.get("prompt")),
                                   "negative_prompt": _bounded(r.get("negative_prompt"))} for r in rows],
                PRODUCT_COLUMNS)


def _bounded(text: Any) -> Any:
    return text[:MAX_PROMPT_CHARS] if isinstance(text, str) and len(text) > MAX_PROMPT_CHARS else text


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


def all_product_files(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """id, path, thumb_path and whether deleted, of every product row, deleted ones included."""
    return cur.execute(
        "SELECT id, path, thumb_path, deleted_at IS NOT NULL AS deleted FROM products").df()


def set_paths(cur: duckdb.DuckDBPyConnection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Point products (``id``, ``path``, ``thumb_path``) at where their files are now."""
    update_rows(cur, "products", rows, ["path", "thumb_path"], dtypes={"thumb_path": "VARCHAR"})


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
    "ids": "product_id IN (SELECT unnest(?))",
    # Scores (issue 15): the latest score of each kind, see m012.
    "min_clip_score": "clip_score >= ?",
    "min_aesthetic_score": "aesthetic_score >= ?",
    "min_judge_score": "judge_score >= ?",
    "scored": "coalesce(clip_score, aesthetic_score, judge_score) IS NOT NULL",
    # Flags (no value bound): given as True, ignored when None or False.
    "no_project": "project_id IS NULL",
    "no_collection": "len(collections) = 0",
}

#: What :func:`gallery_groups` can group by: the key column and the label shown for it.
GALLERY_GROUPS = {
    "project": ("project_id", "project"),
    "model": ("model", "model"),
    "kind": ("kind", "kind"),
}


def _gallery_where(filters: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """The WHERE clause (or "") and its bound arguments for ``GALLERY_FILTERS`` keys."""
    where, args = [], []
    for key, value in filters.items():
        if value is None:
            continue
        if key not in GALLERY_FILTERS:
            raise ValueError(f"unknown gallery filter {key!r}; use one of {', '.join(GALLERY_FILTERS)}")
        clause = GALLERY_FILTERS[key]
        if "?" not in clause:
            if value is False:
                continue
            where.append(clause)
            continue
        where.append(clause)
        args.append(list(value) if key == "ids" else value)
    return (" WHERE " + " AND ".join(where) if where else ""), args


#: How a gallery page may be sorted: newest first (default) or by a score, highest first (unscored last).
GALLERY_SORTS = {
    "newest": "created_at DESC, product_id DESC",
    "clip_score": "clip_score DESC NULLS LAST, created_at DESC, product_id DESC",
    "aesthetic_score": "aesthetic_score DESC NULLS LAST, created_at DESC, product_id DESC",
    "judge_score": "judge_score DESC NULLS LAST, created_at DESC, product_id DESC",
}


def gallery_page(cur: duckdb.DuckDBPyConnection, *, limit: int = 50, offset: int = 0, sort: str = "newest",
                 **filters: Any) -> pd.DataFrame:
    """A page of products sorted by ``sort`` (:data:`GALLERY_SORTS`), filtered by ``GALLERY_FILTERS`` keys
    (None values are ignored)."""
    if sort not in GALLERY_SORTS:
        raise ValueError(f"cannot sort the gallery by {sort!r}; use one of {', '.join(GALLERY_SORTS)}")
    where, args = _gallery_where(filters)
    sql = "SELECT * EXCLUDE (params) FROM gallery" + where
    sql += f" ORDER BY {GALLERY_SORTS[sort]} LIMIT ? OFFSET ?"
    return cur.execute(sql, [*args, limit, offset]).df()


def gallery_count(cur: duckdb.DuckDBPyConnection, **filters: Any) -> int:
    """How many live products match the filters (the same keys as :func:`gallery_page`)."""
    where, args = _gallery_where(filters)
    return int(cur.execute("SELECT count(*) FROM gallery" + where, args).fetchone()[0])


def gallery_groups(cur: duckdb.DuckDBPyConnection, by: str, **filters: Any) -> pd.DataFrame:
    """Matching products counted per project, collection, model or kind, largest group first.

    Columns: ``key`` (project id, collection name, model id or kind; None for products with no
    project / in no collection / imported without a model), ``label``, ``products`` and
    ``newest`` (the latest ``created_at`` in the group). A product in several collections counts
    in each.
    """
    where, args = _gallery_where(filters)
    if by == "collection":
        sql = f"""
            SELECT c AS key, c AS label, count(*) AS products, max(created_at) AS newest
            FROM (SELECT created_at, unnest(CASE WHEN len(collections) = 0 THEN [NULL::VARCHAR]
                                                 ELSE collections END) AS c
                  FROM gallery{where})
            GROUP BY c ORDER BY c IS NULL, products DESC, label"""
    elif by in GALLERY_GROUPS:
        key, label = GALLERY_GROUPS[by]
        sql = f"""
            SELECT {key} AS key, any_value({label}) AS label, count(*) AS products, max(created_at) AS newest
            FROM gallery{where} GROUP BY {key} ORDER BY {key} IS NULL, products DESC, label"""
    else:
        raise ValueError(f"cannot group the gallery by {by!r}; use one of "
                         f"{', '.join(['collection', *GALLERY_GROUPS])}")
    frame = cur.execute(sql, args).df()
    for col in ("key", "label"):  # None, not NaN, for "no project" and the like
        frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    return frame
