"""Crash recovery: make files and rows agree, then resume orders a dead process left open."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..catalog import Catalog
from ..catalog import orders as q_orders
from ..catalog import products as q_products
from ..store import ProductStore

log = logging.getLogger(__name__)


@dataclass
class RecoveryReport:
    """What opening a home found and fixed."""

    temp_files_removed: int = 0
    orphan_files: list[Path] = field(default_factory=list)  # moved to <home>/trash/
    missing_files: list[str] = field(default_factory=list)  # product ids whose file vanished
    requeued: int = 0
    failed: int = 0
    resumed_orders: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.temp_files_removed or self.orphan_files or self.missing_files
                    or self.requeued or self.failed or self.resumed_orders)


def reconcile_files(catalog: Catalog, store: ProductStore, report: RecoveryReport) -> None:
    """Remove temp files; trash product files without a row; soft-delete rows without a file.

    A file without a row is what a crash between the file's rename and the row's commit
    leaves; its generation is re-run, so the file goes to ``<home>/trash/`` (kept, not deleted).
    """
    report.temp_files_removed = store.clean_temp_files()
    cur = catalog.cursor()
    # Strings, not Path objects: at 100,000 products building Paths costs seconds.
    norm = os.path.normpath
    rows = q_products.product_files(cur)
    live = [(pid, norm(path)) for pid, path in zip(rows["id"], rows["path"])]
    known = {path for _, path in live}
    # Rows of soft-deleted products keep their files (undo must work): count them as known.
    known.update(norm(path) for path in q_products.deleted_paths(cur))
    on_disk = set()
    for path in store.iter_product_files():
        on_disk.add(norm(path))
        if norm(path) not in known:
            report.orphan_files.append(store.move_to_trash(path))
    # A row whose file was not walked (a path outside products/, or a spelling of it that
    # differs) is checked on the disk itself.
    missing = [pid for pid, path in live if path not in on_disk and not os.path.exists(path)]
    if missing:
        q_products.mark_missing(cur, missing)
        report.missing_files = missing
    if report.orphan_files or missing:
        log.warning("imagen-nb: %d orphan file(s) moved to trash, %d product(s) missing their file",
                    len(report.orphan_files), len(missing))


def interrupted_orders(catalog: Catalog, report: RecoveryReport, *, mode: str) -> list[dict]:
    """Reset (``mode="requeue"``) or fail (``mode="fail"``) generations a dead process left running.

    Returns the unfinished orders, each with its open generations under ``"open"``, for the
    Studio to submit again.
    """
    if mode not in ("requeue", "fail"):
        raise ValueError(f"recovery must be 'requeue' or 'fail', not {mode!r}")
    cur = catalog.cursor()
    out = []
    for order in q_orders.unfinished_orders(cur):
        if mode == "requeue":
            report.requeued += q_orders.reset_interrupted(cur, order["id"])
        else:
            report.failed += q_orders.fail_interrupted(
                cur, order["id"], "the process running this generation stopped before it finished "
                "(recovery='fail'); retry it or order again")
        order["open"] = q_orders.open_generations(cur, order["id"])
        order["done"] = q_orders.generation_counts(cur, order["id"])
        out.append(order)
    return out
