"""Orders and their generations."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping, Sequence

import duckdb
import pandas as pd
import pyarrow as pa

from .rows import SMALL_BATCH, from_json, insert_rows, records, to_json, update_rows

ORDER_COLUMNS = ("id", "project_id", "model_id", "base_params", "rng_seed", "status", "generation_count",
                 "ordered_by_pid")
GENERATION_COLUMNS = ("id", "order_id", "seq", "model_id", "status", "params")


def insert_order(cur: duckdb.DuckDBPyConnection, order: Mapping[str, Any],
                 generations: Sequence[Mapping[str, Any]]) -> None:
    """Insert an order and all its generations in one transaction (params as dicts)."""
    # An order from rows (issue 13) also records its set and each generation's row.
    order_columns = ORDER_COLUMNS + (("set_name", "row_count") if "row_count" in order else ())
    gen_columns = GENERATION_COLUMNS + (("set_row", "row_values") if generations and "set_row" in generations[0]
                                        else ())
    cur.execute("BEGIN TRANSACTION")
    try:
        insert_rows(cur, "orders", [{**order, "base_params": to_json(order["base_params"])}], order_columns)
        insert_rows(cur, "generations",
                    [{**g, "params": to_json(g["params"]), "row_values": to_json(g.get("row_values"))}
                     for g in generations], gen_columns)
    except BaseException:
        cur.execute("ROLLBACK")
        raise
    cur.execute("COMMIT")  # a failed commit (a full disk) ends the transaction itself: no ROLLBACK after it


def mark_generating(cur: duckdb.DuckDBPyConnection, started: Sequence[tuple[str, datetime, int | None]]) -> None:
    """Record that generations started (status ``generating``, ``started_at``, one more attempt,
    the ``pid`` of the process running it): ``started`` holds (id, started_at, pid)."""
    if not started:
        return
    if len(started) <= SMALL_BATCH:
        for gid, at, pid in started:
            cur.execute("UPDATE generations SET status = 'generating', started_at = ?, pid = ?, "
                        "attempts = attempts + 1, updated_at = current_timestamp WHERE id = ?", [at, pid, gid])
        return
    frame = pa.table({"id": [s[0] for s in started], "started_at": [s[1] for s in started],
                      "pid": pa.array([s[2] for s in started], pa.int32())})
    cur.register("_started", frame)
    try:
        cur.execute("""
            UPDATE generations SET status = 'generating', started_at = s.started_at, pid = s.pid,
                attempts = attempts + 1, updated_at = current_timestamp
            FROM _started s WHERE generations.id = s.id""")
    finally:
        cur.unregister("_started")


def finish_generations(cur: duckdb.DuckDBPyConnection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Record final statuses in one statement.

    Each row: id, status, actual_params, return_params (dicts), error_type, error_message,
    traceback, finished_at, and optionally started_at and pid (for a generation that started and
    finished within one batch: it saves a second UPDATE of the same row).
    """
    if not rows:
        return
    if len(rows) <= SMALL_BATCH:
        for r in rows:
            cur.execute("""
                UPDATE generations SET status = ?, actual_params = CAST(? AS JSON),
                    return_params = CAST(? AS JSON), error_type = ?, error_message = ?, traceback = ?,
                    finished_at = ?, started_at = coalesce(?, started_at), pid = coalesce(?, pid),
                    attempts = attempts + ?, updated_at = current_timestamp
                WHERE id = ?""", [str(r["status"]), to_json(r.get("actual_params")),
                                  to_json(r.get("return_params")), r.get("error_type"), r.get("error_message"),
                                  r.get("traceback"), r.get("finished_at"), r.get("started_at"), r.get("pid"),
                                  1 if r.get("started_at") is not None else 0, r["id"]])
        return
    table = pa.table({
        "id": [r["id"] for r in rows],
        "status": [str(r["status"]) for r in rows],
        "actual_params": [to_json(r.get("actual_params")) for r in rows],
        "return_params": [to_json(r.get("return_params")) for r in rows],
        "error_type": pa.array([r.get("error_type") for r in rows], pa.string()),
        "error_message": pa.array([r.get("error_message") for r in rows], pa.string()),
        "traceback": pa.array([r.get("traceback") for r in rows], pa.string()),
        "finished_at": [r.get("finished_at") for r in rows],
        "started_at": pa.array([r.get("started_at") for r in rows], pa.timestamp("us", tz="UTC")),
        "pid": pa.array([r.get("pid") for r in rows], pa.int32()),
        "bump": [1 if r.get("started_at") is not None else 0 for r in rows],
    })
    cur.register("_finished", table)
    try:
        cur.execute("""
            UPDATE generations SET status = u.status, actual_params = CAST(u.actual_params AS JSON),
                return_params = CAST(u.return_params AS JSON), error_type = u.error_type,
                error_message = u.error_message, traceback = u.traceback, finished_at = u.finished_at,
                started_at = coalesce(u.started_at, generations.started_at), pid = coalesce(u.pid, generations.pid),
                attempts = generations.attempts + u.bump, updated_at = current_timestamp
            FROM _finished u WHERE generations.id = u.id""")
    finally:
        cur.unregister("_finished")


def change_status(cur: duckdb.DuckDBPyConnection, order_id: str, status: str,
                  only_from: Sequence[str] = ()) -> None:
    """Set an order's status (only when it is in one of ``only_from``, if given)."""
    if only_from:
        cur.execute("UPDATE orders SET status = ?, updated_at = current_timestamp "
                    "WHERE id = ? AND status IN (SELECT unnest(?))", [status, order_id, list(only_from)])
    else:
        cur.execute("UPDATE orders SET status = ?, updated_at = current_timestamp WHERE id = ?",
                    [status, order_id])


def set_order_status(cur: duckdb.DuckDBPyConnection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Update orders: dicts with id, status, complete/failed/cancelled counts, finished_at."""
    update_rows(cur, "orders", rows,
                ("status", "complete_count", "failed_count", "cancelled_count", "finished_at"),
                dtypes={"finished_at": "TIMESTAMPTZ", "complete_count": "INTEGER",
                        "failed_count": "INTEGER", "cancelled_count": "INTEGER"})


def get_order(cur: duckdb.DuckDBPyConnection, order_id: str) -> dict[str, Any] | None:
    """One order as a dict (base_params parsed), or None."""
    cur.execute("SELECT * FROM orders WHERE id = ? AND deleted_at IS NULL", [order_id])
    rows = records(cur)
    if not rows:
        return None
    row = rows[0]
    row["base_params"] = from_json(row["base_params"])
    return row


def generation_counts(cur: duckdb.DuckDBPyConnection, order_id: str) -> dict[str, int]:
    """How many generations of an order are in each status."""
    cur.execute("SELECT status, count(*) FROM generations WHERE order_id = ? GROUP BY status", [order_id])
    return {status: n for status, n in cur.fetchall()}


def list_orders(cur: duckdb.DuckDBPyConnection, limit: int = 100) -> pd.DataFrame:
    """Recent orders, newest first."""
    return cur.execute("""
        SELECT o.id, o.model_id AS model, pr.name AS project, o.status, o.generation_count,
               o.complete_count, o.failed_count, o.cancelled_count, o.created_at, o.finished_at
        FROM orders o LEFT JOIN projects pr ON pr.id = o.project_id
        WHERE o.deleted_at IS NULL ORDER BY o.id DESC LIMIT ?""", [limit]).df()


def generations_of(cur: duckdb.DuckDBPyConnection, order_id: str) -> pd.DataFrame:
    """Generations of an order in expansion order, with parameter sets parsed."""
    frame = cur.execute("""
        SELECT id, seq, status, params, actual_params, return_params, error_type, error_message,
               traceback, attempts, started_at, finished_at, pid
        FROM generations WHERE order_id = ? AND deleted_at IS NULL ORDER BY seq""", [order_id]).df()
    for col in ("params", "actual_params", "return_params"):
        frame[col] = frame[col].map(from_json)
    return frame


def get_generation(cur: duckdb.DuckDBPyConnection, generation_id: str) -> dict[str, Any] | None:
    """One generation as a dict, or None."""
    cur.execute("SELECT * FROM generations WHERE id = ?", [generation_id])
    rows = records(cur)
    if not rows:
        return None
    row = rows[0]
    for col in ("params", "actual_params", "return_params"):
        row[col] = from_json(row[col])
    return row


def unfinished_orders(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Orders that were not finished when their process stopped, oldest first."""
    cur.execute("""SELECT * FROM orders WHERE status IN ('pending', 'processing', 'underway')
                   AND deleted_at IS NULL ORDER BY id""")
    rows = records(cur)
    for row in rows:
        row["base_params"] = from_json(row["base_params"])
    return rows


def open_generations(cur: duckdb.DuckDBPyConnection, order_id: str) -> list[dict[str, Any]]:
    """Generations of an order still pending or generating, in order."""
    cur.execute("""SELECT id, seq, status, params, attempts FROM generations
                   WHERE order_id = ? AND status IN ('pending', 'generating') ORDER BY seq""", [order_id])
    rows = records(cur)
    for row in rows:
        row["params"] = from_json(row["params"])
    return rows


def reset_interrupted(cur: duckdb.DuckDBPyConnection, order_id: str) -> int:
    """Put generations left ``generating`` by a dead process back to ``pending``; return how many."""
    cur.execute("""UPDATE generations SET status = 'pending', updated_at = current_timestamp
                   WHERE order_id = ? AND status = 'generating' RETURNING id""", [order_id])
    return len(cur.fetchall())


def fail_interrupted(cur: duckdb.DuckDBPyConnection, order_id: str, message: str) -> int:
    """Mark generations left ``generating`` by a dead process as failed; return how many."""
    cur.execute("""UPDATE generations SET status = 'failed', error_type = 'Interrupted',
                   error_message = ?, finished_at = current_timestamp, updated_at = current_timestamp
                   WHERE order_id = ? AND status = 'generating' RETURNING id""", [message, order_id])
    return len(cur.fetchall())


def summaries(cur: duckdb.DuckDBPyConnection, *, limit: int = 50, before: str | None = None,
              ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Orders newest first with their generations counted per status, as they are now.

    Unlike the ``*_count`` columns of ``orders`` (written when an order finishes), the counts
    ``pending``, ``generating``, ``complete``, ``failed`` and ``cancelled`` come from the
    generations, so they are right while an order runs. ``before``: only orders older than this
    order id (the next page); ``ids``: only these orders. ``prompt`` is the base prompt as typed.
    """
    where = ["o.deleted_at IS NULL"]
    args: list[Any] = []
    if before is not None:
        where.append("o.id < ?")
        args.append(before)
    if ids is not None:
        where.append("o.id IN (SELECT unnest(?))")
        args.append(list(ids))
    args.append(int(limit))
    frame = cur.execute(f"""
        WITH page AS (
            SELECT * FROM orders o WHERE {' AND '.join(where)} ORDER BY o.id DESC LIMIT ?
        ), counts AS (
            SELECT g.order_id,
                   count(*) FILTER (WHERE g.status = 'pending') AS pending,
                   count(*) FILTER (WHERE g.status = 'generating') AS generating,
                   count(*) FILTER (WHERE g.status = 'complete') AS complete,
                   count(*) FILTER (WHERE g.status = 'failed') AS failed,
                   count(*) FILTER (WHERE g.status = 'cancelled') AS cancelled,
                   min(g.started_at) AS started_at
            FROM generations g
            WHERE g.order_id IN (SELECT id FROM page) AND g.deleted_at IS NULL
            GROUP BY g.order_id
        )
        SELECT o.id, o.model_id AS model, o.project_id, pr.name AS project, o.status,
               o.generation_count, json_extract_string(o.base_params, '$.prompt') AS prompt,
               o.base_params,
               coalesce(c.pending, 0) AS pending, coalesce(c.generating, 0) AS generating,
               coalesce(c.complete, 0) AS complete, coalesce(c.failed, 0) AS failed,
               coalesce(c.cancelled, 0) AS cancelled,
               o.created_at, c.started_at, o.finished_at
        FROM page o LEFT JOIN projects pr ON pr.id = o.project_id LEFT JOIN counts c ON c.order_id = o.id
        ORDER BY o.id DESC""", args).df()
    frame["base_params"] = frame["base_params"].map(from_json)
    return frame


def generation_page(cur: duckdb.DuckDBPyConnection, order_id: str, *, offset: int = 0, limit: int | None = None,
                    status: Sequence[str] | None = None, ids: Sequence[str] | None = None) -> pd.DataFrame:
    """A page of an order's generations in expansion order, each with its first product.

    Columns: id, seq, status, params (parsed), error_type, error_message, attempts, started_at,
    finished_at, product_id (the first live product, None while it has none) and products (how
    many). ``status``: only generations in these statuses; ``ids``: only these generations.
    """
    where = ["g.order_id = ?", "g.deleted_at IS NULL"]
    args: list[Any] = [order_id, order_id]
    if status:
        where.append("g.status IN (SELECT unnest(?))")
        args.append([str(s) for s in status])
    if ids is not None:
        where.append("g.id IN (SELECT unnest(?))")
        args.append(list(ids))
    page = "LIMIT ? OFFSET ?" if limit is not None else "OFFSET ?"
    args.extend([int(limit), int(offset)] if limit is not None else [int(offset)])
    frame = cur.execute(f"""
        WITH made AS (
            SELECT generation_id, min(id) AS product_id, count(*) AS products
            FROM products WHERE order_id = ? AND deleted_at IS NULL GROUP BY generation_id
        )
        SELECT g.id, g.seq, g.status, g.params, g.error_type, g.error_message, g.attempts,
               g.started_at, g.finished_at, m.product_id, coalesce(m.products, 0) AS products
        FROM generations g LEFT JOIN made m ON m.generation_id = g.id
        WHERE {' AND '.join(where)} ORDER BY g.seq {page}""", args).df()
    frame["params"] = frame["params"].map(from_json)
    return frame


def reopen_generations(cur: duckdb.DuckDBPyConnection, order_id: str, generation_ids: Sequence[str],
                       order_counts: Mapping[str, int] | None = None) -> int:
    """Put failed or cancelled generations back to ``pending`` to run them again; return how many.

    Their error and parameter sets of the last run are cleared; ``attempts`` keeps counting.
    With ``order_counts`` (complete, failed, cancelled) the finished order is reopened too:
    status ``pending``, those counts, no ``finished_at``.
    """
    cur.execute("""
        UPDATE generations SET status = 'pending', error_type = NULL, error_message = NULL, traceback = NULL,
            actual_params = NULL, return_params = NULL, started_at = NULL, finished_at = NULL,
            updated_at = current_timestamp
        WHERE order_id = ? AND id IN (SELECT unnest(?)) AND status IN ('failed', 'cancelled')
        RETURNING id""", [order_id, list(generation_ids)])
    n = len(cur.fetchall())
    if order_counts is not None:
        cur.execute("""
            UPDATE orders SET status = 'pending', complete_count = ?, failed_count = ?, cancelled_count = ?,
                finished_at = NULL, updated_at = current_timestamp
            WHERE id = ?""", [int(order_counts.get("complete", 0)), int(order_counts.get("failed", 0)),
                               int(order_counts.get("cancelled", 0)), order_id])
    return n


def has_generations(cur: duckdb.DuckDBPyConnection) -> bool:
    """Whether the catalog holds any generation at all."""
    return cur.execute("SELECT EXISTS (SELECT 1 FROM generations)").fetchone()[0]


def insert_finished(cur: duckdb.DuckDBPyConnection, orders: Sequence[Mapping[str, Any]],
                    generations: Sequence[Mapping[str, Any]]) -> None:
    """Insert orders and generations that are already over (as a rebuild finds them), with their
    statuses, counts and times as given; params as dicts."""
    insert_rows(cur, "orders", [{**o, "base_params": to_json(o["base_params"])} for o in orders],
                (*ORDER_COLUMNS, "complete_count", "finished_at", "created_at"))
    insert_rows(cur, "generations",
                [{**g, "params": to_json(g["params"]), "actual_params": to_json(g.get("actual_params"))}
                 for g in generations],
                (*GENERATION_COLUMNS, "actual_params", "attempts", "started_at", "finished_at", "created_at"))


def open_generation_ids(cur: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> set[str]:
    """Which of the generations ``ids`` are still ``pending`` or ``generating``."""
    if not ids:
        return set()
    cur.execute("""SELECT id FROM generations WHERE id IN (SELECT unnest(?))
                   AND status IN ('pending', 'generating')""", [list(ids)])
    return {r[0] for r in cur.fetchall()}


def existing_ids(cur: duckdb.DuckDBPyConnection, table: str, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` the ``orders`` or ``generations`` table has (deleted rows included)."""
    if table not in ("orders", "generations"):
        raise ValueError(f"existing_ids reads orders or generations, not {table!r}")
    if not ids:
        return set()
    cur.execute(f"SELECT id FROM {table} WHERE id IN (SELECT unnest(?))", [list(ids)])
    return {r[0] for r in cur.fetchall()}
