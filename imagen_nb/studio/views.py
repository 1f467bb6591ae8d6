"""The panels' read models: what a panel draws from, kept apart from the user API (``studio.views``).

Pages of orders with live counts, a page of an order's generations, queue positions, gallery
groups, and whether a provider lacks its key. A client's ``studio.views`` asks its host the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

import pandas as pd

from ..catalog import orders as q_orders
from ..catalog import products as q_products
from ..core.errors import MissingKey
from ..core.inputs import check_count
from .handles import Order

if TYPE_CHECKING:
    from .local import LocalStudio


class Views:
    """Read models of a local studio for the panels (``studio.views``)."""

    def __init__(self, studio: "LocalStudio"):
        self._studio = studio

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
