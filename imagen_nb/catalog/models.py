"""Models seen by this studio, with their parameter specs (so SQL can join on them)."""

from __future__ import annotations

from typing import Sequence

import duckdb

from ..core.records import ModelInfo
from .rows import to_json


def upsert(cur: duckdb.DuckDBPyConnection, models: Sequence[ModelInfo]) -> None:
    """Record or refresh models."""
    for m in models:
        cur.execute("""
            INSERT INTO models (id, provider, name, type, family, description, spec)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET type = excluded.type, family = excluded.family,
                description = excluded.description, spec = excluded.spec, updated_at = now()""",
                    [m.id, m.provider, m.name, m.type, m.family, m.description, to_json(dict(m.spec))])
