"""Training runs, their per-step metrics and checkpoints (the SQL of issue 16)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import duckdb
import pandas as pd

from .rows import from_json, insert_rows, records, to_json

RUN_COLUMNS = ("id", "name", "base_model", "base_hash", "project_id", "collection_id", "status", "step",
               "total_steps", "config", "dataset", "image_count", "captions", "pid", "started_at")
_UPDATABLE = {"status", "step", "lora_path", "lora_sha256", "error_type", "error_message", "pid", "started_at",
              "finished_at", "base_hash"}


def insert_run(cur: duckdb.DuckDBPyConnection, row: Mapping[str, Any]) -> None:
    """Insert one run (``config`` and ``dataset`` as Python values)."""
    insert_rows(cur, "training_runs", [{**row, "config": to_json(row["config"]), "dataset": to_json(row["dataset"])}],
                RUN_COLUMNS)


def update_run(cur: duckdb.DuckDBPyConnection, run_id: str, **fields: Any) -> None:
    """Set some columns of a run (see ``_UPDATABLE``); ``updated_at`` follows."""
    unknown = set(fields) - _UPDATABLE
    if unknown:
        raise ValueError(f"training_runs has no updatable column {sorted(unknown)[0]!r}")
    sets = ", ".join(f'"{k}" = ?' for k in fields)
    cur.execute(f"UPDATE training_runs SET {sets}, updated_at = current_timestamp WHERE id = ?",
                [*fields.values(), run_id])


def _parse(rows: list[dict]) -> list[dict]:
    for row in rows:
        row["config"] = from_json(row.get("config"))
        row["dataset"] = from_json(row.get("dataset"))
    return rows


def get_run(cur: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any] | None:
    """One run by id (None when there is none)."""
    cur.execute("SELECT * FROM training_runs WHERE id = ? AND deleted_at IS NULL", [run_id])
    rows = _parse(records(cur))
    return rows[0] if rows else None


def latest_by_name(cur: duckdb.DuckDBPyConnection, name: str) -> dict[str, Any] | None:
    """The newest live run that trains the LoRA ``name``."""
    cur.execute("""SELECT * FROM training_runs WHERE name = ? AND deleted_at IS NULL
                   ORDER BY created_at DESC LIMIT 1""", [name])
    rows = _parse(records(cur))
    return rows[0] if rows else None


def listing(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every live run, newest first, with its last loss (no dataset column: it can be long)."""
    return cur.execute("""
        SELECT r.id, r.name, r.base_model, r.status, r.step, r.total_steps, r.image_count, r.captions,
               r.lora_path, r.lora_sha256, r.error_message, r.created_at, r.started_at, r.finished_at,
               (SELECT m.loss FROM training_metrics m WHERE m.run_id = r.id ORDER BY m.step DESC LIMIT 1) AS last_loss
        FROM training_runs r WHERE r.deleted_at IS NULL ORDER BY r.created_at DESC""").df()


def running_elsewhere(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Runs recorded as ``training`` or ``pending`` (at open: a process that died left them so)."""
    cur.execute("SELECT id, name, step, pid FROM training_runs WHERE status IN ('training', 'pending')"
                " AND deleted_at IS NULL")
    return records(cur)


def insert_metrics(cur: duckdb.DuckDBPyConnection, run_id: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert per-step metrics ``{step, loss, lr, images_per_second}`` in one statement; steps
    at or after the first one given are replaced (a resumed run writes them again)."""
    if not rows:
        return
    cur.execute("DELETE FROM training_metrics WHERE run_id = ? AND step >= ?", [run_id, min(r["step"] for r in rows)])
    insert_rows(cur, "training_metrics", [{**r, "run_id": run_id} for r in rows],
                ("run_id", "step", "loss", "lr", "images_per_second"))


def forget_after(cur: duckdb.DuckDBPyConnection, run_id: str, step: int) -> None:
    """Drop metrics after ``step`` (a resume from the checkpoint at ``step`` writes them again)."""
    cur.execute("DELETE FROM training_metrics WHERE run_id = ? AND step > ?", [run_id, step])


def metrics(cur: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    """step, loss, lr, images_per_second of a run, by step."""
    return cur.execute("""SELECT step, loss, lr, images_per_second, created_at FROM training_metrics
                          WHERE run_id = ? ORDER BY step""", [run_id]).df()


def recent_losses(cur: duckdb.DuckDBPyConnection, run_ids: Sequence[str], count: int = 100) -> dict[str, list[float]]:
    """The last ``count`` losses of each run, oldest first (a panel's sparkline)."""
    if not run_ids:
        return {}
    cur.execute("""
        SELECT run_id, list(loss ORDER BY step) FROM (
            SELECT run_id, step, loss, row_number() OVER (PARTITION BY run_id ORDER BY step DESC) AS k
            FROM training_metrics WHERE run_id IN (SELECT unnest(?))) WHERE k <= ? GROUP BY run_id""",
                [list(run_ids), count])
    return {run_id: [float(x) for x in losses] for run_id, losses in cur.fetchall()}


def insert_checkpoint(cur: duckdb.DuckDBPyConnection, row: Mapping[str, Any]) -> None:
    """Record a checkpoint ``{id, run_id, step, lora_path, sha256, state_path}``."""
    insert_rows(cur, "training_checkpoints", [row], ("id", "run_id", "step", "lora_path", "sha256", "state_path"))


def checkpoints(cur: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    """A run's checkpoints by step."""
    return cur.execute("""SELECT step, lora_path, sha256, state_path, created_at FROM training_checkpoints
                          WHERE run_id = ? AND deleted_at IS NULL ORDER BY step""", [run_id]).df()


def active_runs(cur: duckdb.DuckDBPyConnection, limit: int = 20) -> list[dict[str, Any]]:
    """Runs a panel lists: those not finished, then the most recent finished ones."""
    cur.execute("""SELECT id, name, base_model, status, step, total_steps, image_count, error_message,
                          lora_path, created_at, finished_at
                   FROM training_runs WHERE deleted_at IS NULL
                   ORDER BY (status IN ('pending', 'training')) DESC, created_at DESC LIMIT ?""", [limit])
    return records(cur)


def dataset_rows(cur: duckdb.DuckDBPyConnection, product_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Gallery rows (every column, ``family`` and ``kind`` included) of live products among ``product_ids``."""
    if not product_ids:
        return []
    cur.execute("SELECT * FROM gallery WHERE product_id IN (SELECT unnest(?))", [list(product_ids)])
    return records(cur)


def sample_ids(cur: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    """Ids of a run's live sample products, by step then prompt."""
    cur.execute("""SELECT id FROM products WHERE deleted_at IS NULL AND params->>'training_run' = ?
                   ORDER BY CAST(params->>'training_step' AS INTEGER), seed, id""", [run_id])
    return [r[0] for r in cur.fetchall()]
