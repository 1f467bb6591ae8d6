"""Rebuilding a catalog from the product files: each PNG carries its generation inside.

imagen-nb embeds an ``imagen_nb`` JSON text chunk (model, the exact parameter set, the ids of
product, generation and order) in every PNG it makes, and an A1111 ``parameters`` chunk that
other tools read. From those, a lost or damaged catalog gets back its products (prompt, seed,
model, parameters) and finished orders and generations to hold them. Ratings, collections,
projects and failed generations live only in the catalog: a checkpoint or backup keeps them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..catalog import Catalog
from ..catalog import orders as q_orders
from ..catalog import products as q_products
from ..core.ids import new_id
from ..store import ProductStore, media_type_of, pngmeta
from ..store.imports import clean_metadata

log = logging.getLogger(__name__)

_ID = re.compile(r"[0-9a-f]{26}")
_COMMON = ("prompt", "negative_prompt", "seed", "num_inference_steps", "guidance_scale")
_BIGINT = 2**63


@dataclass
class RebuildReport:
    """What :func:`index_files` (``imagen-nb rebuild``) did.

    Args:
        moved_aside: where the damaged or replaced catalog went (None when it was kept).
        products_added: rows made for product files the catalog did not list.
        orders_added: finished orders recreated from the ids inside the files.
        generations_added: complete generations recreated likewise.
        without_parameters: files listed with no parameters found inside (not PNGs of ours or A1111's).
        unreadable: files that could not be read at all, with why; left where they are.
        cleaned: files whose parameters had values the catalog cannot hold (dropped or cut,
            as an import does).
    """

    moved_aside: Path | None = None
    cleaned: list[Path] = field(default_factory=list)
    products_added: int = 0
    orders_added: int = 0
    generations_added: int = 0
    without_parameters: list[Path] = field(default_factory=list)
    unreadable: list[tuple[Path, str]] = field(default_factory=list)

    def summary(self) -> str:
        """One line for people."""
        parts = [f"{self.products_added} product(s), {self.orders_added} order(s) and "
                 f"{self.generations_added} generation(s) recreated from the files"]
        if self.moved_aside is not None:
            parts.append(f"the old catalog was moved to {self.moved_aside}")
        if self.without_parameters:
            parts.append(f"{len(self.without_parameters)} file(s) had no parameters inside")
        if self.cleaned:
            parts.append(f"{len(self.cleaned)} file(s) had parameters the catalog cannot hold (dropped or cut)")
        if self.unreadable:
            parts.append(f"{len(self.unreadable)} file(s) could not be read and were left as they are")
        return "; ".join(parts)


def index_files(catalog: Catalog, store: ProductStore, report: RebuildReport | None = None) -> RebuildReport:
    """Give every product file under ``<home>/products`` that has no catalog row one, from what
    it carries inside; recreate the finished orders and generations they name. Rows that exist
    are left alone, so running it twice adds nothing the second time."""
    report = report or RebuildReport()
    cur = catalog.cursor()
    listed = q_products.all_product_files(cur)
    known = set(listed["id"])
    known_paths = {os.path.normpath(os.path.join(store.home, p)) for p in listed["path"]}
    rows: list[dict[str, Any]] = []
    for path in store.iter_product_files():
        pid = store.product_id_of(path)
        if pid in known or os.path.normpath(path) in known_paths:  # listed already (by id, or by path)
            continue
        try:
            row = _product_row(store, path, pid if pid and _ID.fullmatch(pid) else new_id())
        except OSError as exc:
            report.unreadable.append((path, exc.strerror or str(exc)))
            continue
        if row.pop("warnings"):
            report.cleaned.append(path)
        if row["params"] is None:
            report.without_parameters.append(path)
        known.add(row["id"])
        rows.append(row)
    orders, generations = _orders_of(rows)
    have_orders = q_orders.existing_ids(cur, "orders", [o["id"] for o in orders])
    have_gens = q_orders.existing_ids(cur, "generations", [g["id"] for g in generations])
    orders = [o for o in orders if o["id"] not in have_orders]
    generations = [g for g in generations if g["id"] not in have_gens]
    with catalog.transaction() as tx:
        q_orders.insert_finished(tx, orders, generations)
        q_products.insert_products(tx, rows)
    report.products_added += len(rows)
    report.orders_added += len(orders)
    report.generations_added += len(generations)
    return report


def _product_row(store: ProductStore, path: Path, product_id: str) -> dict[str, Any]:
    data = path.read_bytes()
    ext = path.suffix.lower().removeprefix(".")
    media_type = media_type_of(ext)
    try:
        meta = pngmeta.read(data)
    except Exception:  # noqa: BLE001 - one odd file must not stop a rebuild
        meta = None  # a video, a sound, or an image Pillow cannot read: listed all the same
    params = dict(meta["params"]) if meta and isinstance(meta.get("params"), dict) else None
    # What a file carries is not trusted: the same checks as an import (a seed of 2**70, a lone
    # surrogate, a prompt of megabytes) so that one hostile file cannot stop the rebuild.
    params, model, warnings = clean_metadata(params, meta.get("model") if meta else None)
    extra = meta.get("extra") or {} if meta else {}
    if meta:
        media_type = meta["media_type"]
    created = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
    thumb = store.thumb_for(path)
    width, height = (meta["width"], meta["height"]) if meta else (None, None)
    small = meta is not None and max(width, height) <= store.thumb_size
    if thumb is None and small and ext in ("png", "jpg", "jpeg", "webp", "gif"):
        thumb = path  # small web images are their own thumbnail (as the store writes them)
    row: dict[str, Any] = {
        "id": product_id,
        "generation_id": _an_id(extra.get("generation_id")),
        "order_id": _an_id(extra.get("order_id")),
        "project_id": None,
        "model_id": model,
        "source": "generated" if extra.get("generation_id") else "imported",
        "kind": media_type.split("/")[0],
        "media_type": media_type,
        "path": store.catalog_path(path),
        "thumb_path": store.catalog_path(thumb) if thumb is not None else None,
        "size": len(data),
        "width": width,
        "height": height,
        "sha256": hashlib.sha256(data).hexdigest(),
        "params": params,
        "created_at": created,
        "warnings": warnings,
    }
    for key in _COMMON:
        row[key] = _column_value(key, (params or {}).get(key))
    return row


def _an_id(value: Any) -> str | None:
    return value if isinstance(value, str) and _ID.fullmatch(value) else None


def _column_value(key: str, value: Any) -> Any:
    # Values from a file are not trusted: a seed of 2**70 or a prompt that is a list must not
    # fail the whole rebuild; they stay in params, the typed column is left empty.
    if key in ("prompt", "negative_prompt"):
        return value if isinstance(value, str) else None
    if key in ("seed", "num_inference_steps"):
        return value if isinstance(value, int) and not isinstance(value, bool) and -_BIGINT <= value < _BIGINT else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _orders_of(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Finished orders and complete generations for the products that name them."""
    by_order: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row["order_id"] and row["generation_id"]:
            by_order.setdefault(row["order_id"], []).append(row)
    orders, generations = [], []
    for order_id, products in by_order.items():
        products.sort(key=lambda r: (r["created_at"], r["id"]))
        gens: dict[str, dict[str, Any]] = {}
        for row in products:
            gens.setdefault(row["generation_id"], row)
        params = [r["params"] or {} for r in gens.values()]
        # What every generation shares is the best guess of what the order was given.
        shared = {k: v for k, v in params[0].items() if all(p.get(k) == v for p in params[1:])}
        first, last = products[0], products[-1]
        model = first["model_id"] or "unknown:unknown"
        orders.append({"id": order_id, "project_id": None, "model_id": model, "base_params": shared,
                       "rng_seed": 0, "status": "fulfilled", "generation_count": len(gens),
                       "complete_count": len(gens), "finished_at": last["created_at"],
                       "created_at": first["created_at"]})
        for seq, (gid, row) in enumerate(gens.items()):
            generations.append({"id": gid, "order_id": order_id, "seq": seq, "model_id": row["model_id"] or model,
                                "status": "complete", "params": row["params"] or {},
                                "actual_params": row["params"], "attempts": 1, "started_at": row["created_at"],
                                "finished_at": row["created_at"], "created_at": row["created_at"]})
    return orders, generations


def rebuild_home(home: Path) -> RebuildReport:
    """Open (or, when it is damaged, set aside and recreate) the catalog of ``home`` and list
    every product file it lacks. Needs the home free: no Studio may have it open."""
    from ..catalog import checkpoints
    from ..catalog.connection import home_locked
    from ..core.errors import CatalogDamaged

    report = RebuildReport()
    existing = checkpoints.checkpoints(home)
    if existing:  # the opens after a rebuild take new checkpoints: keep the last one from before
        checkpoints.pin(existing[0], "before-rebuild")
    try:
        catalog = Catalog(home)
    except CatalogDamaged as exc:
        with home_locked(home):  # nobody may open it while it is moved
            report.moved_aside = checkpoints.move_aside(Path(exc.path), "damaged")
        catalog = Catalog(home)
    try:
        index_files(catalog, ProductStore(home), report)
    finally:
        catalog.close()
    log.info("imagen-nb rebuild of %s: %s", home, report.summary())
    return report
