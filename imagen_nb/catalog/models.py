"""Models seen by this studio, with their parameter specs (so SQL can join on them)."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Sequence

import duckdb

from ..core.records import ModelInfo
from .rows import from_json, to_json

_upsert_lock = threading.Lock()


def upsert(cur: duckdb.DuckDBPyConnection, models: Sequence[ModelInfo]) -> None:
    """Record or refresh models.

    Two threads inserting the same new model at once (two orders of one model placed together,
    as a refinement's prompts do) conflict in DuckDB's optimistic concurrency even with ON CONFLICT:
    the writes of one process take turns, and a loser against another writer tries again.
    """
    for m in models:
        for attempt in range(3):
            try:
                _upsert_one(cur, m)
                break
            except (duckdb.ConstraintException, duckdb.TransactionException):
                if attempt == 2:
                    raise


def _upsert_one(cur: duckdb.DuckDBPyConnection, m: ModelInfo) -> None:
    with _upsert_lock:
        cur.execute("""
            INSERT INTO models (id, provider, name, type, family, description, spec)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET type = excluded.type, family = excluded.family,
                description = excluded.description, spec = excluded.spec, updated_at = now()""",
                    [m.id, m.provider, m.name, m.type, m.family, m.description, to_json(dict(m.spec))])


def put_fetched(cur: duckdb.DuckDBPyConnection, model: ModelInfo) -> None:
    """Record a model whose spec was just fetched from its provider."""
    upsert(cur, [model])
    cur.execute("UPDATE models SET spec_fetched_at = now() WHERE id = ?", [model.id])


def get_fetched(cur: duckdb.DuckDBPyConnection, model_id: str) -> tuple[ModelInfo, datetime] | None:
    """A model with a fetched spec and when it was fetched, or None."""
    cur.execute("""SELECT provider, name, type, family, description, spec, spec_fetched_at FROM models
                   WHERE id = ? AND spec_fetched_at IS NOT NULL AND deleted_at IS NULL""", [model_id])
    row = cur.fetchone()
    if row is None:
        return None
    provider, name, type_, family, description, spec, fetched = row
    return ModelInfo(provider, name, type_, family, from_json(spec) or {}, description), fetched
