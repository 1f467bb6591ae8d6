"""Scores: one number per (product, scorer), e.g. ``clip:transformers:tiny-clip`` (issue 15)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import duckdb
import pandas as pd

from ..core.ids import new_id
from .rows import from_json, to_json


def put_scores(cur: duckdb.DuckDBPyConnection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write scores (``product_id``, ``scorer``, ``value``, ``details``); a product's earlier score by
    the same scorer is replaced, in one transaction."""
    if not rows:
        return
    cur.execute("BEGIN TRANSACTION")
    try:
        for r in rows:
            cur.execute("DELETE FROM scores WHERE product_id = ? AND scorer = ?", [r["product_id"], r["scorer"]])
            cur.execute("INSERT INTO scores (id, product_id, scorer, value, details) VALUES (?, ?, ?, ?, ?)",
                        [new_id(), r["product_id"], r["scorer"], float(r["value"]), to_json(r.get("details"))])
    except BaseException:
        cur.execute("ROLLBACK")
        raise
    cur.execute("COMMIT")


def scores_of(cur: duckdb.DuckDBPyConnection, product_ids: Sequence[str], scorer: str | None = None) -> pd.DataFrame:
    """The live scores of these products (all scorers, or one): product_id, scorer, value, details."""
    sql = ("SELECT product_id, scorer, value, details, updated_at FROM scores "
           "WHERE deleted_at IS NULL AND product_id IN (SELECT unnest(?))")
    args: list[Any] = [list(product_ids)]
    if scorer is not None:
        sql += " AND scorer = ?"
        args.append(scorer)
    frame = cur.execute(sql + " ORDER BY product_id, scorer", args).df()
    frame["details"] = [from_json(d) for d in frame["details"]]
    return frame
