"""The panels' read models: what a panel draws from, kept apart from the user API (``studio.views``).

Pages of orders with live counts, a page of an order's generations, queue positions, gallery
groups, and whether a provider lacks its key. A client's ``studio.views`` asks its host the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

import pandas as pd

from ..catalog import orders as q_orders
from ..catalog import products as q_products
from ..catalog import training as q_training
from ..core.errors import MissingKey, ValidationError
from ..core.inputs import check_count
from ..store.tables import read_rows
from .handles import Order

if TYPE_CHECKING:
    from .local import LocalStudio


class Views:
    """Read models of a local studio for the panels (``studio.views``)."""

    def __init__(self, studio: "LocalStudio"):
        self._studio = studio

    def read_rows(self, source: Any) -> list[dict[str, Any]]:
        """The rows of a table as an order from rows reads them: a .csv/.tsv/.json/.jsonl/.parquet
        path, a DataFrame or a list of dicts (the Order panel's attached table). Raises RowsError."""
        return read_rows(source)

    def missing_key(self, provider: str) -> str | None:
        """How to set ``provider``'s API key when it needs one and none is set (the ``MissingKey``
        message an order would raise), else None. Local providers need no key."""
        keys = getattr(self._studio.providers.get(provider), "keys", None)
        if keys is None:
            return None
        try:
            keys.require(provider)
        except MissingKey as exc:
            return str(exc)
        return None

    def order_summaries(self, *, limit: int = 50, before: str | None = None,
                        ids: Iterable[str] | None = None) -> pd.DataFrame:
        """Recent orders, newest first, with their generations counted per status as they are now.

        Columns: id, model, project_id, project, status, generation_count, prompt (as typed),
        base_params, pending, generating, complete, failed, cancelled, created_at, started_at,
        finished_at. ``before``: the page after this order id; ``ids``: only these orders.
        """
        limit = check_count("limit", limit)
        return q_orders.summaries(self._studio.catalog.cursor(), limit=limit, before=before,
                                  ids=None if ids is None else list(ids))

    def generations(self, order: "Order | str", *, offset: int = 0, limit: int | None = None,
                    status: "Iterable[str] | None" = None, ids: Iterable[str] | None = None) -> pd.DataFrame:
        """A page of an order's generations in expansion order, each with its first product.

        Columns: id, seq, status, params, error_type, error_message, attempts, started_at,
        finished_at, product_id, products. ``status``: only these statuses (``"failed"``…);
        ``ids``: only these generations. Use :meth:`generation` for one with its traceback.
        """
        order_id = order.id if isinstance(order, Order) else str(order)
        offset = check_count("offset", offset)
        if limit is not None:
            limit = check_count("limit", limit)
        return q_orders.generation_page(self._studio.catalog.cursor(), order_id, offset=offset, limit=limit,
                                        status=None if status is None else list(status),
                                        ids=None if ids is None else list(ids))

    def queue_positions(self, generations: Iterable[str] | None = None) -> dict[str, int]:
        """Where queued generations wait: id → 0-based position in their lane (0 runs next).

        Only queued generations appear (of these ids, or all of them).
        """
        return self._studio.executor.queue_positions(None if generations is None else list(generations))

    def active_generations(self) -> int:
        """How many generations are queued or running in this studio right now."""
        return self._studio.tracker.unfinished()

    def gallery_groups(self, by: str, **filters: Any) -> pd.DataFrame:
        """The gallery's products counted per ``by``: ``"project"``, ``"collection"``, ``"model"`` or ``"kind"``.

        Columns key, label, products, newest; largest group first, the group without a project,
        collection or model (key None) last. A product in several collections counts in each.
        Filters as in :meth:`gallery`.
        """
        return q_products.gallery_groups(self._studio.catalog.cursor(), by, **filters)

    def grid_layout(self, *, order_id: str | None = None, product_ids: Iterable[str] | None = None,
                    x: str | None = None, y: str | None = None, z: str | None = None) -> dict[str, Any]:
        """A comparison grid's cells with no image drawn (the panels' grid view), as plain data.

        Give an order (axes inferred when none are named: what varies in it, largest first) or
        products (axes: the two gallery columns or parameters that vary most, unless named).
        Returns ``{title, order_id, axes: {x, y, z: {name, labels} | None}, choices: [names],
        fixed: {name: label}, cells: [{x, y, z, product_id, status, note, count}]}`` (indexes into
        each axis's labels; a combination nothing was made for is absent).
        """
        from ..core.grid import label
        from .grid import order_layout, products_layout

        if (order_id is None) == (product_ids is None):
            raise ValidationError("order_id", "give an order_id or product_ids, one of them")
        if order_id is not None:
            grid, title, choices = order_layout(self._studio, order_id, x=x, y=y, z=z)
        else:
            grid, title, choices = products_layout(self._studio, list(product_ids or []), x=x, y=y, z=z)
        axes = {w: ({"name": a.name, "labels": list(a.labels)} if a else None)
                for w, a in (("x", grid.x), ("y", grid.y), ("z", grid.z))}
        cells = [{"z": zi, "y": yi, "x": xi, "product_id": items[0].product_id, "status": items[0].status,
                  "generation_id": items[0].generation_id,
                  "note": items[0].note, "count": len(items)}
                 for (zi, yi, xi), items in sorted(grid.cells.items())]
        for axis in (grid.x, grid.y, grid.z):
            if axis is not None and axis.name not in choices:
                choices.append(axis.name)
        return {"title": title, "order_id": order_id, "axes": axes, "choices": choices,
                "fixed": {k: label(v) for k, v in grid.fixed.items()}, "cells": cells}

    def training_rows(self, ids: Iterable[str] | None = None, *, limit: int = 20, points: int = 120) -> list[dict[str, Any]]:
        """Training runs for the Production panel: live ones first, then the newest finished.

        Each row: id, name, base_model, status, step, total_steps, image_count, error_message,
        lora_path, created_at, finished_at, and ``losses`` (the last ``points`` losses, oldest
        first, for a sparkline). ``ids``: only these runs.
        """
        limit = check_count("limit", limit, minimum=1, maximum=500)
        cur = self._studio.catalog.cursor()
        rows = q_training.active_runs(cur, limit=limit if ids is None else 500)
        if ids is not None:
            wanted = set(ids)
            rows = [r for r in rows if r["id"] in wanted]
        losses = q_training.recent_losses(cur, [r["id"] for r in rows], points)
        for row in rows:
            row["losses"] = losses.get(row["id"], [])
        return rows


    def refine_choices(self) -> dict[str, Any]:
        """What an Order panel's "Refine" option offers: judges (image-to-text) and rewriters
        (text-to-text) among the listed models, the scorers, and the defaults ``studio.refine`` uses."""
        models = self._studio.models()
        pick = lambda kind: models.loc[models["type"] == kind, "id"].tolist()  # noqa: E731
        return {"judges": pick("image-to-text"), "rewriters": pick("text-to-text"),
                "scorers": ["judge", "clip:tiny-clip", "aesthetic:tiny-clip"],
                "defaults": {"judge": "transformers:tiny-judge", "rewriter": "transformers:tiny-rewriter",
                             "iterations": 3, "n": 1, "scorer": "judge"},
                "iterations_max": 20, "n_max": 16}
