"""Outcomes the catalog could not take at close, kept in a small file and committed on reopen.

When the disk is full, the recorder keeps a batch of finished generations and commits it once
space is back. If the Studio closes first, the batch is not dropped: the product files are
already on the disk, and the generations may have cost money (a paid provider bills each call).
Running them again on reopen would bill them twice and trash the files already saved. So at close
the batch is written here as JSON (a few hundred bytes per generation, next to files that already
exist) and :func:`replay` commits it when the home is opened again, before crash recovery looks
for files without rows.

A full disk may have no room even for that file: :class:`Reserve` keeps a small file of
:data:`RESERVE_BYTES` in the home, made when the home opens, and gives its space back just before
the journal is written. Only when even that fails (the disk filled before the reserve could be
made) are the generations run again on reopen, as after a crash, and a warning says so.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

from ..catalog import Catalog
from ..catalog import orders as q_orders
from ..catalog import products as q_products

log = logging.getLogger(__name__)

#: the folder of a home holding journals of outcomes not yet in the catalog
JOURNAL_DIR = "outcomes"
#: the file whose space is given back to write a journal when the disk is full
RESERVE_NAME = ".space-reserve"
RESERVE_BYTES = 2**20


class Reserve:
    """A file of ``size`` bytes in ``home`` that holds space for a journal on a full disk."""

    def __init__(self, home: Path, size: int = RESERVE_BYTES):
        self.path = Path(home) / RESERVE_NAME
        self.size = size

    def keep(self) -> bool:
        """Make the reserve file (its blocks really allocated); False when the disk has no room for it."""
        try:
            if self.path.exists() and self.path.stat().st_size >= self.size:
                return True
            with open(self.path, "wb") as f:
                f.write(b"\0" * self.size)  # written, not sparse: the blocks must exist
                f.flush()
                os.fsync(f.fileno())
            return True
        except OSError:
            try:
                self.path.unlink(missing_ok=True)
            except OSError:
                pass
            return False

    def release(self) -> bool:
        """Give the reserve's space back; True when there was one."""
        try:
            self.path.unlink()
            return True
        except OSError:
            return False


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _revive(obj: dict) -> Any:
    if set(obj) == {"$datetime"}:
        return datetime.fromisoformat(obj["$datetime"])
    return obj


def save(home: Path, finished: Iterable[Any]) -> Path | None:
    """Write the outcomes (recorder ``Finished`` records) to a journal file in ``home``; its path,
    or None when not even the reserve made room for it (then they run again on reopen)."""
    records = [{"order_id": f.order_id, "generation_id": f.generation_id, "status": str(f.status),
                "actual_params": f.actual_params, "return_params": f.return_params,
                "error_type": f.error_type, "error_message": f.error_message, "traceback": f.traceback,
                "products": list(f.products), "at": f.at} for f in finished]
    if not records:
        return None
    data = json.dumps({"version": 1, "finished": records}, default=_jsonable).encode()
    folder = Path(home) / JOURNAL_DIR
    target = folder / f"{uuid.uuid4().hex}.json"
    reserve = Reserve(home)
    for attempt in range(2):
        tmp = target.with_suffix(".tmp")
        try:
            folder.mkdir(exist_ok=True)
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
            return target
        except OSError:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
            if attempt or not reserve.release():
                return None
    return None


def pending(home: Path) -> list[Path]:
    """The journal files of ``home`` not yet committed, oldest first."""
    folder = Path(home) / JOURNAL_DIR
    if not folder.is_dir():
        return []
    return sorted(folder.glob("*.json"), key=lambda p: (p.stat().st_mtime, p.name))


def replay(catalog: Catalog, home: Path) -> int:
    """Commit every journal of ``home`` to the catalog, then remove it; the number of generations
    recorded. An outcome is taken only for a generation still open in the catalog and, when it
    made products, only if every product file is there (otherwise that generation runs again)."""
    recorded = 0
    for path in pending(home):
        try:
            body = json.loads(path.read_text("utf-8"), object_hook=_revive)
            records = body["finished"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("imagen-nb: %s cannot be read (%s); its generations run again", path, exc)
            _set_aside(path)
            continue
        cur = catalog.cursor()
        still_open = q_orders.open_generation_ids(cur, [r["generation_id"] for r in records])
        take = [r for r in records if r["generation_id"] in still_open
                and all(os.path.exists(os.path.join(home, p["path"])) for p in r["products"])]
        with catalog.transaction() as tx:
            q_products.insert_products(tx, [p for r in take for p in r["products"]])
            q_orders.finish_generations(tx, [
                {"id": r["generation_id"], "status": r["status"], "actual_params": r["actual_params"],
                 "return_params": r["return_params"], "error_type": r["error_type"],
                 "error_message": r["error_message"], "traceback": r["traceback"], "finished_at": r["at"]}
                for r in take])
        path.unlink()
        recorded += len(take)
    if recorded:
        log.warning("imagen-nb: %d finished generation(s) the disk had no room to record at the last close "
                    "are recorded now (they are not run again)", recorded)
    return recorded


def _set_aside(path: Path) -> None:
    try:
        os.replace(path, path.with_suffix(".unreadable"))
    except OSError:
        pass
