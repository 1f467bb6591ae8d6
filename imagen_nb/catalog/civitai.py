"""civitai's knowledge of local files: where each came from (``civitai_files``) and cached hash lookups."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

import duckdb
import pandas as pd

from ..core.ids import new_id

#: Columns of ``civitai_files`` a caller fills (``id`` and the timestamps are the catalog's).
FIELDS = ("path", "kind", "local_name", "sha256", "origin", "source", "air", "model_id", "version_id", "file_id",
          "model_name", "version_name", "model_type", "base_model", "family", "trigger_words", "licence", "size")
_JSON = ("trigger_words", "licence")


def record_file(cur: duckdb.DuckDBPyConnection, row: Mapping[str, Any]) -> str:
    """Record what civitai says of a local file, replacing an earlier row of the same path; its id."""
    unknown = set(row) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown civitai_files columns: {sorted(unknown)}")
    values = {k: (json.dumps(row.get(k), ensure_ascii=False) if k in _JSON and row.get(k) is not None else row.get(k))
              for k in FIELDS}
    cur.execute("BEGIN TRANSACTION")
    try:
        cur.execute("""UPDATE civitai_files SET deleted_at = current_timestamp, updated_at = current_timestamp
                       WHERE path = ? AND deleted_at IS NULL""", [values["path"]])
        rid = new_id()
        cur.execute(f"INSERT INTO civitai_files (id, {', '.join(FIELDS)}) VALUES (?{', ?' * len(FIELDS)})",
                    [rid, *values.values()])
        cur.execute("COMMIT")
    except BaseException:
        cur.execute("ROLLBACK")
        raise
    return rid


def files(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every live row of ``civitai_files``, newest first (trigger words and licence decoded)."""
    frame = cur.execute(f"""SELECT id, {', '.join(FIELDS)}, created_at FROM civitai_files
                            WHERE deleted_at IS NULL ORDER BY created_at DESC""").df()
    for column in _JSON:
        frame[column] = [json.loads(v) if isinstance(v, str) else v for v in frame[column]]
    return frame


def file_by_path(cur: duckdb.DuckDBPyConnection, path: str) -> dict[str, Any] | None:
    """The live row of a path, or None."""
    cur.execute(f"SELECT {', '.join(FIELDS)} FROM civitai_files WHERE path = ? AND deleted_at IS NULL", [path])
    row = cur.fetchone()
    if row is None:
        return None
    out = dict(zip(FIELDS, row))
    for column in _JSON:
        out[column] = json.loads(out[column]) if isinstance(out[column], str) else out[column]
    return out


def cached_hash(cur: duckdb.DuckDBPyConnection, sha256: str, *, found_ttl: timedelta,
                missing_ttl: timedelta) -> tuple[bool, dict[str, Any] | None] | None:
    """(found, version) from the cache while fresh, else None (ask civitai again)."""
    cur.execute("SELECT found, version, fetched_at FROM civitai_hashes WHERE sha256 = ?", [sha256.lower()])
    row = cur.fetchone()
    if row is None:
        return None
    found, version, fetched = row
    ttl = found_ttl if found else missing_ttl
    if datetime.now(timezone.utc) - fetched > ttl:
        return None
    return bool(found), (json.loads(version) if isinstance(version, str) else None)


def put_hash(cur: duckdb.DuckDBPyConnection, sha256: str, version: Mapping[str, Any] | None) -> None:
    """Remember what civitai answered for a hash (None: it knows no such file)."""
    payload = json.dumps(dict(version), ensure_ascii=False) if version is not None else None
    cur.execute("""INSERT INTO civitai_hashes (sha256, found, version) VALUES (?, ?, ?)
                   ON CONFLICT (sha256) DO UPDATE SET found = excluded.found, version = excluded.version,
                   fetched_at = now()""", [sha256.lower(), version is not None, payload])
