"""A consistent copy of an open catalog into a new DuckDB file, while the studio keeps working."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import duckdb

from .connection import Catalog
from .migrations import migrate


def snapshot(catalog: Catalog, target: Path) -> None:
    """Copy every table of ``catalog`` into a new DuckDB file at ``target``.

    All tables are read in one transaction, so the copy is one moment of the catalog even while
    workers record products; the file is written under a temporary name and renamed when whole.

    Raises:
        FileExistsError: ``target`` exists (a backup never overwrites).
    """
    target = Path(target)
    if target.exists():
        raise FileExistsError(f"{target} exists already; a backup never overwrites a file")
    tmp = target.with_name(f".tmp-{os.getpid()}-{target.name}")
    src = catalog.new_cursor()
    dst = duckdb.connect(str(tmp))
    try:
        migrate(dst)  # the same schema, from the same list of migrations
        dst.execute("DELETE FROM schema_migrations")  # the source's own record comes with its rows
        src.execute("BEGIN TRANSACTION")
        tables = [name for (name,) in src.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'main' AND table_type = 'BASE TABLE' ORDER BY table_name").fetchall()]
        for name in tables:
            quoted = '"' + name.replace('"', '""') + '"'
            reader = src.sql(f"SELECT * FROM {quoted}").to_arrow_reader()
            dst.register("_snapshot_rows", reader)
            try:
                dst.execute(f"INSERT INTO {quoted} BY NAME SELECT * FROM _snapshot_rows")
            finally:
                dst.unregister("_snapshot_rows")
        src.execute("COMMIT")
        dst.execute("CHECKPOINT")
    except BaseException:
        with contextlib.suppress(Exception):
            src.execute("ROLLBACK")
        dst.close()
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
        raise
    finally:
        src.close()
    dst.close()
    os.replace(tmp, target)


def product_count(path: Path) -> int:
    """How many live products a catalog file lists (opened read-only)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return int(con.execute("SELECT count(*) FROM products WHERE deleted_at IS NULL").fetchone()[0])
    finally:
        con.close()
