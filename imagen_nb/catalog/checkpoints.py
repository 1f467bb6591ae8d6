"""Keeping a catalog recoverable: an integrity read, rotating checkpoints, moving a bad file aside.

A checkpoint is a plain copy of ``catalog.duckdb`` taken when it opened cleanly (every block
read and checksummed), kept under ``<home>/checkpoints/``; the newest few are kept. A damaged
catalog can roll back to one (``imagen-nb restore <checkpoint>``).

A restore or a rebuild pins the newest checkpoint from before it (and a restored checkpoint
itself): a ``<checkpoint>.pin`` file beside it says why, and rotation never removes a pinned
checkpoint, so opening the home a few times after a restore cannot push out the only copy of
the catalog as it was before. Only the last pin of each reason is kept (an older one goes back
to normal rotation).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import duckdb

CHECKPOINT_DIR = "checkpoints"
KEEP = 3
"""How many checkpoints a home keeps (the oldest goes when a new one is taken)."""

_PREFIX = "catalog-"
_SUFFIX = ".duckdb"
_PIN = ".pin"
#: why a checkpoint is pinned (the text of its ``.pin`` file starts with one of these)
PIN_REASONS = ("before-restore", "restored-from", "before-rebuild")


def verify(con: duckdb.DuckDBPyConnection) -> None:
    """Read every row of every table, so each block's checksum is checked now rather than in the
    middle of some later query. About 0.2–0.3 s for a catalog of 100,000 products with their
    orders and generations (benchmarks/RESULTS.md).

    Raises:
        duckdb.Error: the file is damaged (``Corrupt database file: computed checksum…``).
    """
    tables = [name for (name,) in con.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'main' AND table_type = 'BASE TABLE'").fetchall()]
    for name in tables:
        quoted = '"' + name.replace('"', '""') + '"'
        con.execute(f"SELECT bit_xor(hash(t)) FROM {quoted} t").fetchall()


def holds_work(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the catalog has any product or generation (a checkpoint of less is not worth keeping)."""
    return con.execute("SELECT EXISTS (SELECT 1 FROM products) OR EXISTS (SELECT 1 FROM generations)").fetchone()[0]


def checkpoints(home: Path) -> list[Path]:
    """The checkpoints of a home, newest first."""
    folder = Path(home) / CHECKPOINT_DIR
    try:
        names = [e.name for e in os.scandir(folder)
                 if e.is_file() and e.name.startswith(_PREFIX) and e.name.endswith(_SUFFIX)]
    except FileNotFoundError:
        return []
    return [folder / n for n in sorted(names, reverse=True)]


def take(con: duckdb.DuckDBPyConnection, catalog_path: Path, *, keep: int = KEEP) -> Path | None:
    """Copy the catalog (after a DuckDB ``CHECKPOINT``, so the file holds everything) into
    ``<home>/checkpoints/`` and drop all but the newest ``keep``; return the new copy.

    Nothing is copied when the newest checkpoint is no older than the catalog file (nothing
    changed since) or the catalog holds no products and no generations. Call it only while
    nothing else writes through ``con``'s database (at open).
    """
    if keep <= 0 or not holds_work(con):
        return None
    con.execute("CHECKPOINT")
    existing = checkpoints(catalog_path.parent)
    if existing and existing[0].stat().st_mtime >= catalog_path.stat().st_mtime:
        return None
    folder = catalog_path.parent / CHECKPOINT_DIR
    folder.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    target = folder / f"{_PREFIX}{stamp}{_SUFFIX}"
    tmp = folder / f".tmp-{os.getpid()}-{target.name}"
    try:
        shutil.copyfile(catalog_path, tmp)
        os.replace(tmp, target)
    except OSError:
        tmp.unlink(missing_ok=True)
        return None  # a checkpoint is a spare; failing to take one must not stop the studio
    for old in [c for c in checkpoints(catalog_path.parent) if pinned(c) is None][keep:]:
        with contextlib.suppress(OSError):
            old.unlink()
    return target


def pinned(path: Path) -> str | None:
    """Why a checkpoint is pinned (one of :data:`PIN_REASONS`), or None when it rotates normally."""
    try:
        text = Path(f"{path}{_PIN}").read_text("utf-8")
    except (OSError, UnicodeError):
        return None
    reason = text.split(maxsplit=1)[0] if text.strip() else ""
    return reason if reason in PIN_REASONS else None


def pin(path: Path, reason: str, note: str = "") -> None:
    """Keep the checkpoint ``path`` out of rotation for ``reason``; the previous checkpoint pinned
    for the same reason goes back to normal rotation. Nothing happens for a file outside the
    home's checkpoint folder (a backup folder is the user's, never rotated)."""
    if reason not in PIN_REASONS:
        raise ValueError(f"pin reason must be one of {PIN_REASONS}, not {reason!r}")
    path = Path(path)
    if path.parent.name != CHECKPOINT_DIR or not path.name.startswith(_PREFIX) or not path.is_file():
        return
    for other in checkpoints(path.parent.parent):
        if other != path and pinned(other) == reason:
            with contextlib.suppress(OSError):
                Path(f"{other}{_PIN}").unlink()
    Path(f"{path}{_PIN}").write_text(f"{reason} {_stamp()} {note}".rstrip() + "\n", "utf-8")


def is_good(path: Path) -> bool:
    """Whether a catalog file opens and every row of it reads back (checksums included)."""
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return False
    try:
        verify(con)
        con.execute("SELECT count(*) FROM schema_migrations").fetchall()
        return True
    except duckdb.Error:
        return False
    finally:
        con.close()


def newest_good(home: Path) -> Path | None:
    """The newest checkpoint of a home that :func:`is_good`, or None."""
    for path in checkpoints(home):
        if is_good(path):
            return path
    return None


def move_aside(catalog_path: Path, why: str) -> Path | None:
    """Rename a catalog (and its write-ahead log) to ``catalog.<why>-<UTC time>.duckdb`` next to
    it; return the new name, or None when there was no file. Never deletes anything."""
    if not catalog_path.exists():
        wal = Path(f"{catalog_path}.wal")
        if wal.exists():  # a log without its database cannot be replayed: keep it aside too
            os.replace(wal, catalog_path.with_name(f"catalog.{why}-{_stamp()}.duckdb.wal"))
        return None
    target = catalog_path.with_name(f"catalog.{why}-{_stamp()}.duckdb")
    os.replace(catalog_path, target)
    wal = Path(f"{catalog_path}.wal")
    if wal.exists():
        os.replace(wal, Path(f"{target}.wal"))
    return target


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
