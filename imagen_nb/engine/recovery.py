"""Crash recovery: make files and rows agree, then resume orders a dead process left open."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..catalog import Catalog, checkpoints
from ..catalog import orders as q_orders
from ..catalog import products as q_products
from ..store import ProductStore, pngmeta

log = logging.getLogger(__name__)


@dataclass
class RecoveryReport:
    """What opening a home found and fixed."""

    temp_files_removed: int = 0
    orphan_files: list[Path] = field(default_factory=list)  # moved to <home>/trash/
    missing_files: list[str] = field(default_factory=list)  # product ids whose file vanished
    repointed: list[str] = field(default_factory=list)  # product ids whose row now names where the file is
    unindexed_files: list[Path] = field(default_factory=list)  # left in place: the catalog is new or empty
    requeued: int = 0
    recorded_late: int = 0  # finished generations a full disk kept out of the catalog at the last close
    failed: int = 0
    resumed_orders: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.temp_files_removed or self.orphan_files or self.missing_files or self.repointed
                    or self.unindexed_files or self.requeued or self.failed or self.resumed_orders or self.recorded_late)


REBUILD_HINT = ("close this Studio and run `imagen-nb --home {home} rebuild` (or inb.Studio.rebuild(home)) to "
                "list them again from what they carry inside")


def reconcile_files(catalog: Catalog, store: ProductStore, report: RecoveryReport) -> None:
    """Remove temp files; trash crash leftovers; soft-delete rows without a file.

    A file without a row is what a crash between the file's rename and the row's commit
    leaves; its generation is re-run, so the file goes to ``<home>/trash/`` (kept, not deleted).
    Only such files are trashed: one whose embedded ``imagen_nb`` JSON names a generation of
    this catalog. Never trashed: a file named after a product the catalog has (its row is
    pointed at it when the row's own path is gone), and a file this catalog knows nothing about
    (imported, or made before the catalog was lost or replaced): it is left where it is, with a
    warning saying how to list it again (:data:`REBUILD_HINT`).
    """
    report.temp_files_removed = store.clean_temp_files()
    cur = catalog.cursor()
    # Strings, not Path objects: at 100,000 products building Paths costs seconds.
    norm = os.path.normpath
    home = str(store.home)
    rows = q_products.all_product_files(cur)
    resolved = [norm(os.path.join(home, path)) for path in rows["path"]]
    known = set(resolved)  # soft-deleted products keep their files (undo must work)
    ids = set(rows["id"])
    live = [(pid, path) for pid, path, deleted in zip(rows["id"], resolved, rows["deleted"]) if not deleted]
    on_disk = set()
    elsewhere: dict[str, str] = {}  # product id → a file named after it that its row does not name
    unlisted: list[Path] = []
    for path in store.iter_product_files():
        name = norm(path)
        on_disk.add(name)
        if name in known:
            continue
        pid = store.product_id_of(path)
        if pid in ids:
            elsewhere.setdefault(pid, name)
        else:
            unlisted.append(path)
    # A crash leaves files of generations the catalog has; any other file is not a leftover.
    made_by = {path: _generation_of(path) for path in unlisted}
    ours = q_orders.existing_ids(cur, "generations", sorted({g for g in made_by.values() if g}))
    for path in unlisted:
        if made_by[path] in ours:
            report.orphan_files.append(store.move_to_trash(path))
        else:
            report.unindexed_files.append(path)
    # A row whose file was not walked (a path outside products/, or a spelling of it that
    # differs) is checked on the disk itself.
    gone = [pid for pid, path in live if path not in on_disk and not os.path.exists(path)]
    self_thumbs = {pid for pid, path, thumb in zip(rows["id"], rows["path"], rows["thumb_path"]) if thumb == path}
    moves = []
    for pid in gone:
        if pid in elsewhere:
            found = Path(elsewhere[pid])
            thumb = found if pid in self_thumbs else store.thumb_for(found)
            moves.append({"id": pid, "path": store.catalog_path(found),
                          "thumb_path": store.catalog_path(thumb) if thumb is not None else None})
    if moves:
        q_products.set_paths(cur, moves)
        report.repointed = [m["id"] for m in moves]
    missing = [pid for pid in gone if pid not in elsewhere]
    if missing:
        q_products.mark_missing(cur, missing)
        report.missing_files = missing
    if report.orphan_files or missing:
        log.warning("imagen-nb: %d orphan file(s) moved to trash, %d product(s) missing their file",
                    len(report.orphan_files), len(missing))
    if report.unindexed_files:
        checkpoint = checkpoints.newest_good(store.home)
        also = (f", or roll back to the checkpoint taken before, `imagen-nb --home {store.home} restore "
                f"{checkpoint} --force` (it keeps ratings and collections too)" if checkpoint is not None else "")
        log.warning("imagen-nb: %d product file(s) in %s are not in its catalog%s; nothing was moved: %s%s",
                    len(report.unindexed_files), store.home, " (which is new)" if catalog.created else "",
                    REBUILD_HINT.format(home=store.home), also)


def _generation_of(path: Path) -> str | None:
    """The generation id a product file carries in its ``imagen_nb`` chunk, if it can be read."""
    try:
        meta = pngmeta.read(path)
    except (OSError, ValueError):
        return None
    generation = (meta.get("extra") or {}).get("generation_id")
    return generation if isinstance(generation, str) else None


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
