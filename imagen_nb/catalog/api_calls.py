"""HTTP calls of remote providers, one row per request (after the seed's api_calls tracking)."""

from __future__ import annotations

from typing import Sequence

import duckdb

from ..core.ids import new_id
from ..core.records import ApiCall
from .rows import insert_rows

COLUMNS = ("id", "generation_id", "order_id", "provider", "method", "endpoint", "status_code",
           "duration_ms", "request_id", "attempt", "error")


def insert(cur: duckdb.DuckDBPyConnection, calls: Sequence[ApiCall]) -> None:
    """Record API calls in one statement."""
    insert_rows(cur, "api_calls", [
        {"id": new_id(), "generation_id": c.generation_id or None, "order_id": c.order_id or None,
         "provider": c.provider, "method": c.method, "endpoint": c.endpoint, "status_code": c.status_code,
         "duration_ms": round(c.duration * 1000, 3), "request_id": c.request_id, "attempt": c.attempt,
         "error": c.error} for c in calls], COLUMNS)
