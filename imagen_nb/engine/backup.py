"""Backups of a home's catalog with a manifest of its product files, and restoring one.

A backup is a folder: ``catalog.duckdb`` (a consistent copy, taken while the studio works) and
``manifest.json`` listing every product file (path relative to the home, sha256, size), so a
restore can say which files are missing or changed. The product files themselves are not
copied: copy the home's ``products/`` folder along with the backup to keep them too.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..catalog import Catalog, checkpoints
from ..catalog.connection import CATALOG_FILE, home_locked
from ..catalog.snapshot import product_count, snapshot
from ..core.errors import CatalogBusy, ImagenError
from ..store import ProductStore
from .rebuild import RebuildReport, index_files

MANIFEST = "manifest.json"
FORMAT = 1


@dataclass(frozen=True)
class BackupReport:
    """What :func:`backup` wrote: the folder, and how many product files (and bytes) it lists."""

    path: Path
    products: int
    bytes: int


@dataclass
class RestoreReport:
    """What :func:`restore` did.

    Args:
        source: the backup folder or checkpoint file restored.
        moved_aside: where the catalog it replaced went (None when there was none).
        products: live products the restored catalog lists.
        missing: manifest files not in the home (relative paths).
        changed: manifest files whose content differs from the backup's record.
        rebuild: product files newer than the backup, listed again from what they carry inside.
    """

    source: Path
    moved_aside: Path | None = None
    products: int = 0
    missing: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    rebuild: RebuildReport = field(default_factory=RebuildReport)

    def summary(self) -> str:
        """One line for people."""
        parts = [f"restored {self.products} product(s) from {self.source}"]
        if self.moved_aside is not None:
            parts.append(f"the catalog it replaced was moved to {self.moved_aside}")
        if self.rebuild.products_added:
            parts.append(f"{self.rebuild.products_added} newer product file(s) listed from what they carry inside")
        if self.missing:
            parts.append(f"{len(self.missing)} file(s) of the backup's manifest are missing from the home: copy "
                         "them into it before opening a Studio, which marks products without a file as missing")
        if self.changed:
            parts.append(f"{len(self.changed)} file(s) differ from the manifest")
        return "; ".join(parts)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def backup(catalog: Catalog, store: ProductStore, path: Path) -> BackupReport:
    """Write a backup folder at ``path`` (it must not exist, or be an empty folder).

    Raises:
        ImagenError: ``path`` exists and is not an empty folder, or is inside the home's
            ``products/`` (a backup there would be taken for product files).
    """
    path = Path(path).expanduser().absolute()
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise ImagenError(f"{path} exists and is not an empty folder; give a new folder for the backup, "
                          "e.g. backups/2025-01-31 (a backup never overwrites)")
    for inside in (store.products, store.thumbs):
        if path.is_relative_to(inside.absolute()):
            raise ImagenError(f"{path} is inside {inside}; put backups outside products/ and thumbs/")
    path.mkdir(parents=True, exist_ok=True)
    snapshot(catalog, path / CATALOG_FILE)
    files = []
    for file in store.iter_product_files():
        files.append({"path": store.catalog_path(file), "sha256": _sha256(file), "size": file.stat().st_size})
    manifest = {"format": FORMAT, "created_at": datetime.now(timezone.utc).isoformat(),
                "home": str(store.home), "catalog": CATALOG_FILE,
                "catalog_sha256": _sha256(path / CATALOG_FILE), "products": files}
    tmp = path / f".tmp-{MANIFEST}"
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, path / MANIFEST)
    return BackupReport(path=path, products=len(files), bytes=sum(f["size"] for f in files))


def _source_catalog(source: Path) -> tuple[Path, dict | None]:
    if source.is_dir():
        catalog = source / CATALOG_FILE
        if not catalog.is_file():
            raise ImagenError(f"{source} is not an imagen-nb backup: it has no {CATALOG_FILE}; give the folder "
                              "`imagen-nb backup` wrote, or a checkpoint file from <home>/checkpoints/")
        manifest = None
        if (source / MANIFEST).is_file():
            try:
                manifest = json.loads((source / MANIFEST).read_text())
            except (OSError, ValueError) as exc:
                raise ImagenError(f"the manifest of the backup {source} cannot be read ({exc})") from exc
        return catalog, manifest
    if source.is_file():
        return source, None
    raise ImagenError(f"{source}: no such backup folder or catalog file; check the path")


def restore(source: Path, home: Path, *, force: bool = False) -> RestoreReport:
    """Put a backup (or a checkpoint file) in place as the catalog of ``home``.

    Checks come first: the backup must read cleanly, no Studio may have the home open, and a
    home whose catalog is readable and holds work is replaced only with ``force=True``. The
    catalog replaced is moved aside (``catalog.replaced-<time>.duckdb``, or ``damaged``),
    never deleted. Product files newer than the backup get rows from what they carry inside
    (so recovery does not take them for leftovers), and the manifest is checked against the
    home.

    Raises:
        ImagenError: the backup is not one, or is damaged; or the home holds a live catalog
            and ``force`` is False.
        CatalogBusy: a Studio has the home open.
    """
    source = Path(source).expanduser().absolute()
    home = Path(home).expanduser().absolute()
    catalog_file, manifest = _source_catalog(source)
    if not checkpoints.is_good(catalog_file):
        raise ImagenError(f"the backup catalog {catalog_file} does not read cleanly; restore another backup or "
                          "checkpoint, or rebuild from the product files: `imagen-nb rebuild`")
    report = RestoreReport(source=source)
    target = home / CATALOG_FILE
    try:
        with home_locked(home):
            _pin_before_restore(home, catalog_file)
            if target.exists():
                if checkpoints.is_good(target):
                    live = product_count(target)
                    if not force and live:
                        raise ImagenError(
                            f"{target} is a working catalog with {live} product(s); restoring replaces it. "
                            "Run again with force=True (`imagen-nb restore --force`): it is moved aside "
                            "(catalog.replaced-<time>.duckdb), not deleted")
                    report.moved_aside = checkpoints.move_aside(target, "replaced")
                else:
                    report.moved_aside = checkpoints.move_aside(target, "damaged")
            else:
                checkpoints.move_aside(target, "orphaned")  # a log left without its database
            tmp = home / f".tmp-{os.getpid()}-{CATALOG_FILE}"
            shutil.copyfile(catalog_file, tmp)
            os.replace(tmp, target)
    except CatalogBusy as exc:
        if exc.pid == os.getpid():
            raise CatalogBusy(f"a Studio in this process has {home} open; close it first (studio.close()), "
                              "then restore: a restore replaces the catalog under it", pid=exc.pid) from None
        raise
    catalog = Catalog(home)
    try:
        store = ProductStore(home)
        index_files(catalog, store, report.rebuild)
        report.products = product_count_open(catalog)
    finally:
        catalog.close()
    if manifest:
        for entry in manifest.get("products", []):
            rel = entry.get("path")
            if not isinstance(rel, str):
                continue
            file = home / rel
            if not file.is_file():
                report.missing.append(rel)
            elif file.stat().st_size != entry.get("size") or _sha256(file) != entry.get("sha256"):
                report.changed.append(rel)
    return report


def _pin_before_restore(home: Path, source: Path) -> None:
    """Keep the newest checkpoint from before this restore, and the checkpoint restored, out of
    rotation: the opens after a restore take new checkpoints and would push them out."""
    existing = checkpoints.checkpoints(home)
    if existing and existing[0] != source:
        checkpoints.pin(existing[0], "before-restore", f"restored {source}")
    checkpoints.pin(source, "restored-from")


def product_count_open(catalog: Catalog) -> int:
    """How many live products an open catalog lists."""
    from ..catalog.products import gallery_count

    return gallery_count(catalog.cursor())
