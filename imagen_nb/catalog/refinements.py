"""Refinements (issue 15): the loop's own rows — one per refinement, per prompt and per round.

A round row names the orders it placed (ids chosen before each order is placed, see m012), so a
refinement resumed after a crash finds them and never places an order twice.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import duckdb
import pandas as pd

from .rows import from_json, insert_rows, records, to_json

REFINEMENT_COLUMNS = ("id", "status", "model_id", "judge_id", "rewriter_id", "scorer", "iterations", "n", "goal",
                      "stop_at", "project_id", "params")
ITEM_COLUMNS = ("id", "refinement_id", "idx", "title", "prompt", "extra", "status")
ROUND_COLUMNS = ("id", "refinement_id", "item_id", "round", "prompt", "status")
#: Round columns a runner may set after the row exists.
ROUND_UPDATES = frozenset({"image_order_id", "judge_order_id", "rewriter_order_id", "best_product_id", "best_score",
                           "judgement_product_id", "judgement", "next_prompt", "status"})
ITEM_UPDATES = frozenset({"status", "reason", "best_product_id", "best_score"})


def insert_refinement(cur: duckdb.DuckDBPyConnection, refinement: Mapping[str, Any],
                      items: Sequence[Mapping[str, Any]]) -> None:
    """Insert a refinement and its items (one per prompt) in one transaction."""
    cur.execute("BEGIN TRANSACTION")
    try:
        insert_rows(cur, "refinements", [{**refinement, "params": to_json(refinement["params"])}], REFINEMENT_COLUMNS)
        insert_rows(cur, "refinement_items", [{**i, "extra": to_json(i.get("extra"))} for i in items], ITEM_COLUMNS)
    except BaseException:
        cur.execute("ROLLBACK")
        raise
    cur.execute("COMMIT")


def get_refinement(cur: duckdb.DuckDBPyConnection, refinement_id: str) -> dict[str, Any] | None:
    """The refinement row (params parsed), or None."""
    rows = records(cur.execute("SELECT * FROM refinements WHERE id = ?", [refinement_id]))
    if not rows:
        return None
    row = rows[0]
    row["params"] = from_json(row["params"]) or {}
    return row


def list_refinements(cur: duckdb.DuckDBPyConnection, limit: int = 100) -> pd.DataFrame:
    """Recent refinements, newest first, with their counts of prompts and rounds."""
    return cur.execute("""
        SELECT f.id, f.status, f.model_id, f.judge_id, f.rewriter_id, f.scorer, f.iterations, f.n, f.goal,
            f.stop_at, f.project_id, f.error, f.created_at, f.finished_at,
            (SELECT count(*) FROM refinement_items i WHERE i.refinement_id = f.id) AS prompts,
            (SELECT count(*) FROM refinement_items i WHERE i.refinement_id = f.id
                AND i.status <> 'running') AS prompts_finished,
            (SELECT count(*) FROM refinement_rounds r WHERE r.refinement_id = f.id
                AND r.status = 'done') AS rounds_done
        FROM refinements f WHERE f.deleted_at IS NULL ORDER BY f.created_at DESC, f.id DESC LIMIT ?""",
                       [limit]).df()


def running_refinements(cur: duckdb.DuckDBPyConnection) -> list[str]:
    """Ids of refinements left running (by a process that stopped or died), oldest first."""
    return [r[0] for r in cur.execute(
        "SELECT id FROM refinements WHERE status = 'running' AND deleted_at IS NULL ORDER BY created_at, id").fetchall()]


def items_of(cur: duckdb.DuckDBPyConnection, refinement_id: str) -> list[dict[str, Any]]:
    """The refinement's items (one per prompt) in prompt order."""
    rows = records(cur.execute("SELECT * FROM refinement_items WHERE refinement_id = ? ORDER BY idx",
                               [refinement_id]))
    for row in rows:
        row["extra"] = from_json(row["extra"])
    return rows


def rounds_of(cur: duckdb.DuckDBPyConnection, refinement_id: str, item_id: str | None = None) -> list[dict[str, Any]]:
    """The refinement's rounds (of one item when given), by prompt then round."""
    sql = ("SELECT r.* FROM refinement_rounds r JOIN refinement_items i ON i.id = r.item_id "
           "WHERE r.refinement_id = ?")
    args: list[Any] = [refinement_id]
    if item_id is not None:
        sql += " AND r.item_id = ?"
        args.append(item_id)
    return records(cur.execute(sql + " ORDER BY i.idx, r.round", args))


def insert_round(cur: duckdb.DuckDBPyConnection, row: Mapping[str, Any]) -> None:
    """Insert one round (its first order's id may come with it)."""
    columns = ROUND_COLUMNS + tuple(k for k in row if k in ROUND_UPDATES and k not in ROUND_COLUMNS)
    insert_rows(cur, "refinement_rounds", [row], columns)


def _set(cur: duckdb.DuckDBPyConnection, table: str, allowed: frozenset[str], row_id: str,
         fields: Mapping[str, Any], extra: str = "") -> None:
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"cannot set {', '.join(sorted(unknown))} of {table}")
    sets = ", ".join(f"{k} = ?" for k in fields)  # names from the allow-list above, values bound
    cur.execute(f"UPDATE {table} SET {sets}, updated_at = current_timestamp{extra} WHERE id = ?",
                [*fields.values(), row_id])


def update_round(cur: duckdb.DuckDBPyConnection, round_id: str, **fields: Any) -> None:
    """Set columns of one round (see :data:`ROUND_UPDATES`)."""
    _set(cur, "refinement_rounds", ROUND_UPDATES, round_id, fields)


def update_item(cur: duckdb.DuckDBPyConnection, item_id: str, **fields: Any) -> None:
    """Set columns of one item; a final status also records ``finished_at``."""
    final = fields.get("status") not in (None, "running")
    _set(cur, "refinement_items", ITEM_UPDATES, item_id, fields, ", finished_at = current_timestamp" if final else "")


def finish_refinement(cur: duckdb.DuckDBPyConnection, refinement_id: str, status: str, error: str | None = None) -> None:
    """Record a refinement's final status (only while it is still running)."""
    cur.execute("UPDATE refinements SET status = ?, error = ?, finished_at = current_timestamp, "
                "updated_at = current_timestamp WHERE id = ? AND status = 'running'", [status, error, refinement_id])


def cancel_items(cur: duckdb.DuckDBPyConnection, refinement_id: str) -> None:
    """Mark the refinement's running items and rounds cancelled."""
    cur.execute("UPDATE refinement_items SET status = 'cancelled', reason = 'cancelled', "
                "finished_at = current_timestamp, updated_at = current_timestamp "
                "WHERE refinement_id = ? AND status = 'running'", [refinement_id])
    cur.execute("UPDATE refinement_rounds SET status = 'cancelled', updated_at = current_timestamp "
                "WHERE refinement_id = ? AND status = 'running'", [refinement_id])


def lineage_rows(cur: duckdb.DuckDBPyConnection, refinement_id: str) -> pd.DataFrame:
    """The ``lineage`` view's rows of one refinement, by prompt then round."""
    return cur.execute("SELECT * FROM lineage WHERE refinement_id = ? ORDER BY item, round", [refinement_id]).df()


def lineage_of_product(cur: duckdb.DuckDBPyConnection, product_id: str) -> pd.DataFrame:
    """The whole chain a product belongs to: every round of its prompt's loop, whether the product
    was a round's best, one of its candidates or its judgement (empty when it is in no refinement)."""
    return cur.execute("""
        WITH hit AS (
            SELECT r.item_id FROM refinement_rounds r
            WHERE r.best_product_id = ? OR r.judgement_product_id = ?
               OR r.image_order_id = (SELECT order_id FROM products WHERE id = ?)
               OR r.judge_order_id = (SELECT order_id FROM products WHERE id = ?)
            LIMIT 1)
        SELECT * FROM lineage WHERE item_id = (SELECT item_id FROM hit) ORDER BY round""", [product_id] * 4).df()
