"""The Production panel's comparison grid of an order (issue 13), for a Production panel that
stands alone: inside the Studio widget an order row's "Grid" opens the Gallery's grid view
instead (``nav.go("gallery", {order_id, view: "grid"})``).

Mixed into :class:`~.production.ProductionController`. The layout comes from
``studio.views.grid_layout`` (no image drawn); the page asks for thumbnails of the cells it
shows through the panel's ``thumbs`` request, 100 at a time.
"""

from __future__ import annotations

from typing import Any

from ..core.errors import ImagenError, ValidationError
from .bridge import PanelRequestError, need_id

#: Cells one grid view shows at most (a bigger order: pick other axes, or the Gallery's grid view).
GRID_MAX_CELLS = 400


class GridRequests:
    """``grid(order_id, x?, y?, z?)`` (needs the controller's ``studio``)."""

    def rpc_grid(self, order_id: str, x: str | None = None, y: str | None = None, z: str | None = None) -> dict[str, Any]:
        """An order's grid: ``{title, order_id, axes: {x, y, z}, choices, fixed, cells, total, shown}``;
        axes inferred when none is named; at most :data:`GRID_MAX_CELLS` cells (``total`` says how many there are)."""
        order_id = need_id(order_id, "order_id", "say which order's grid to show")
        try:
            layout = self.studio.views.grid_layout(order_id=order_id, x=x or None, y=y or None, z=z or None)
        except ValidationError as exc:
            field = f"grid_{exc.param}" if exc.param in ("x", "y", "z") else "order_id"
            raise PanelRequestError(exc.message, field=field) from exc
        except LookupError as exc:
            raise PanelRequestError(str(exc), field="order_id") from exc
        except ImagenError as exc:
            raise PanelRequestError(str(exc), field="grid_x") from exc
        cells = layout["cells"]
        layout["total"] = len(cells)
        layout["cells"] = cells[:GRID_MAX_CELLS]
        layout["shown"] = len(layout["cells"])
        return layout
